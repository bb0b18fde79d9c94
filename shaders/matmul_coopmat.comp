#version 450
// Prefill matmul with cooperative matrices (GPUs that have VK_NV_cooperative_matrix): common/matmul_coopmat.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matmul_coopmat.glsl"
