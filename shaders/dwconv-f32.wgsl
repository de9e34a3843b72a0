// Depthwise 7×7 conv kernels (dwconv-kernels.wgsl) with one channel per element: any C.
alias VT = f32;
const LANES: u32 = 1u;
fn lane_sum(v: VT) -> f32 { return v; }
//#include "dwconv-kernels.wgsl"
