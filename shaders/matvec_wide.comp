#version 450
// Matrix-vector product with 16-byte loads (GPUs, decode): common/matvec.glsl.
#extension GL_GOOGLE_include_directive : require
#define WIDE
#include "matvec.glsl"
