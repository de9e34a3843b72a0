// Components reach the engine bridge through this context (null until the worker is started,
// and in a page without WebGPU), so controls render before the GPU is ready.
import { createContext, useContext } from 'react';
import type { EngineBridge } from './engine-bridge.ts';

export const BridgeContext = createContext<EngineBridge | null>(null);

export function useBridge(): EngineBridge | null {
  return useContext(BridgeContext);
}
