// The element-wise binary operations of l4j_binary (lens4j_ops.h), shared by cpu/tensor_ops.cpp and its CUDA twin.
#pragma once
#include "host_device.h"
#include "lens4j_ops.h"

template <class T> L4J_HD T l4j_binary_op(int op, T a, T b) {
    switch (op) {
        case L4J_BIN_ADD: return a + b;
        case L4J_BIN_SUB: return a - b;
        case L4J_BIN_MUL: return a * b;
        case L4J_BIN_DIV: return a / b;
        case L4J_BIN_MAX: return (a != a || a > b) ? a : b;  // NaN propagates, as torch.maximum
        default: return (a != a || a < b) ? a : b;
    }
}
