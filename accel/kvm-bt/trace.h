#include "trace/trace-accel_kvm_bt.h"
