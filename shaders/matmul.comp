#version 450
// Tiled matmul (GPUs, prefill): common/matmul_tiled.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matmul_tiled.glsl"
