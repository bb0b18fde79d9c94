#version 450
// matmul_coopmat without cooperative matrices (tests its staging, tiles and output stage on any device).
#define EMULATED
#extension GL_GOOGLE_include_directive : require
#include "matmul_coopmat.glsl"
