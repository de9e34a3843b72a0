// Float64 reference for Global Response Normalization (spec §2) on the sparse row layout,
// forward and backward, same semantics as shaders/grn-*.wgsl.
//
// A "group" is what one G is computed over: one sample's S = rowsPerSample contiguous rows
// ('per-sample', groups = N) or every row of the batch ('batch', groups = 1).
//   G[g,c]  = sqrt(Σ_{s∈g} X[s,c]²)            D[g] = mean_c G[g,c] + eps
//   Nx[g,c] = G[g,c] / D[g]                    Y = gamma·X·Nx + beta + X
// Backward (P[g,c] = Σ_{s∈g} dY·X):
//   dBeta[c] = Σ dY,  dGamma[c] = Σ_g Nx[g,c]·P[g,c]
//   dNx[g,c] = gamma[c]·P[g,c]
//   dG[g,c]  = (dNx[g,c] − (1/C)·Σ_c' dNx[g,c']·Nx[g,c']) / D[g]   (through the channel mean)
//   dX       = dY·(1 + gamma·Nx) + (X / G)·dG, with X/G := 0 where G = 0 (then X = 0 in that
//              channel for the whole group; same convention as torch.norm's backward).
import { GRN_EPS, grnGroupCount, grnGroupRows, type GrnShape } from '../ops/grn.ts';

export interface GrnForwardRefResult {
  /** (rows, C) */
  y: Float64Array;
  /** Nx (groups, C) */
  norm: Float64Array;
  /** G (groups, C) */
  gnorm: Float64Array;
}

export interface GrnBackwardRefResult {
  /** (rows, C) */
  dX: Float64Array;
  /** (C) */
  dGamma: Float64Array;
  /** (C) */
  dBeta: Float64Array;
}

/** D[g] = mean_c G[g,c] + eps, recomputed from G exactly as the forward did. */
function denominators(gnorm: ArrayLike<number>, groups: number, C: number): Float64Array {
  const d = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += gnorm[g * C + c]!;
    d[g] = s / C + GRN_EPS;
  }
  return d;
}

export function grnForwardRef(
  io: { x: ArrayLike<number>; gamma: ArrayLike<number>; beta: ArrayLike<number> },
  shape: GrnShape,
): GrnForwardRefResult {
  const { C } = shape;
  const groups = grnGroupCount(shape);
  const groupRows = grnGroupRows(shape);
  const { x, gamma, beta } = io;
  const gnorm = new Float64Array(groups * C);
  for (let g = 0; g < groups; g++) {
    for (let s = g * groupRows; s < (g + 1) * groupRows; s++) {
      for (let c = 0; c < C; c++) gnorm[g * C + c]! += x[s * C + c]! ** 2;
    }
  }
  for (let i = 0; i < gnorm.length; i++) gnorm[i] = Math.sqrt(gnorm[i]!);
  const d = denominators(gnorm, groups, C);
  const norm = new Float64Array(groups * C);
  for (let g = 0; g < groups; g++) for (let c = 0; c < C; c++) norm[g * C + c] = gnorm[g * C + c]! / d[g]!;
  const y = new Float64Array(groups * groupRows * C);
  for (let g = 0; g < groups; g++) {
    for (let s = g * groupRows; s < (g + 1) * groupRows; s++) {
      for (let c = 0; c < C; c++) {
        const v = x[s * C + c]!;
        y[s * C + c] = gamma[c]! * v * norm[g * C + c]! + beta[c]! + v;
      }
    }
  }
  return { y, norm, gnorm };
}

/** `norm` and `gnorm` are the forward's Nx and G (groups, C). */
export function grnBackwardRef(
  io: {
    x: ArrayLike<number>;
    gamma: ArrayLike<number>;
    norm: ArrayLike<number>;
    gnorm: ArrayLike<number>;
    dY: ArrayLike<number>;
  },
  shape: GrnShape,
): GrnBackwardRefResult {
  const { C } = shape;
  const groups = grnGroupCount(shape);
  const groupRows = grnGroupRows(shape);
  const { x, gamma, norm, gnorm, dY } = io;
  const P = new Float64Array(groups * C); // Σ_s dY·X per (g, c)
  const dBeta = new Float64Array(C);
  for (let g = 0; g < groups; g++) {
    for (let s = g * groupRows; s < (g + 1) * groupRows; s++) {
      for (let c = 0; c < C; c++) {
        P[g * C + c]! += dY[s * C + c]! * x[s * C + c]!;
        dBeta[c]! += dY[s * C + c]!;
      }
    }
  }
  const d = denominators(gnorm, groups, C);
  const dGamma = new Float64Array(C);
  const dG = new Float64Array(groups * C);
  for (let g = 0; g < groups; g++) {
    let meanTerm = 0;
    for (let c = 0; c < C; c++) {
      const i = g * C + c;
      dGamma[c]! += norm[i]! * P[i]!;
      meanTerm += gamma[c]! * P[i]! * norm[i]!;
    }
    meanTerm /= C;
    for (let c = 0; c < C; c++) {
      const i = g * C + c;
      dG[i] = (gamma[c]! * P[i]! - meanTerm) / d[g]!;
    }
  }
  const dX = new Float64Array(groups * groupRows * C);
  for (let g = 0; g < groups; g++) {
    for (let s = g * groupRows; s < (g + 1) * groupRows; s++) {
      for (let c = 0; c < C; c++) {
        const i = g * C + c;
        const G = gnorm[i]!;
        const xOverG = G > 0 ? x[s * C + c]! / G : 0;
        dX[s * C + c] = dY[s * C + c]! * (1 + gamma[c]! * norm[i]!) + xOverG * dG[i]!;
      }
    }
  }
  return { dX, dGamma, dBeta };
}
