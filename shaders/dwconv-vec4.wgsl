// Depthwise 7×7 conv kernels (dwconv-kernels.wgsl) on four consecutive channels per element:
// C % 4 == 0, every buffer read as array<vec4<f32>> (a quarter of the loads).
alias VT = vec4<f32>;
const LANES: u32 = 4u;
fn lane_sum(v: VT) -> f32 { return (v.x + v.y) + (v.z + v.w); }
//#include "dwconv-kernels.wgsl"
