#version 450
// What the driver says about subgroups, per invocation (tests only: the kernels' assumptions about
// gl_SubgroupID, gl_NumSubgroups and subgroupAdd, checked on each driver and subgroup size). It does not
// read gl_SubgroupSize, as most kernels do not: on lavapipe that keeps its Mesa shader-cache key free of
// the vector width (test_runtime.cpp).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(binding = 0) writeonly buffer Out { uvec4 o[]; };

void main() {
  const uint i = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  o[i] = uvec4(gl_SubgroupID, gl_NumSubgroups, gl_SubgroupInvocationID, subgroupAdd(1u));
}
