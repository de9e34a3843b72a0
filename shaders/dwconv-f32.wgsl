// Depthwise 7×7 conv kernels (dwconv-kernels.wgsl) with one channel per element: any C.
alias VT = f32;
//#include "dwconv-kernels.wgsl"
