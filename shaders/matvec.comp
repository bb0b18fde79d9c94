#version 450
// Matrix-vector product (GPUs, decode): common/matvec.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matvec.glsl"
