// What a drop means, from names alone.
import { describe, expect, it } from 'vitest';
import { classifyDrop } from '../../../src/ui/drop.ts';

describe('classifyDrop', () => {
  it('one checkpoint file, one zip, else images', () => {
    const f = (name: string, isDirectory = false) => ({ name, isDirectory });
    expect(classifyDrop([f('run.safetensors')])).toBe('checkpoint');
    expect(classifyDrop([f('convnextv2_atto_1k_224_fcmae.PT')])).toBe('checkpoint');
    expect(classifyDrop([f('model.pth')])).toBe('checkpoint');
    expect(classifyDrop([f('photos.zip')])).toBe('zip');
    expect(classifyDrop([f('photos.zip', true)])).toBe('images'); // a folder named like a zip
    expect(classifyDrop([f('a.jpg'), f('b.pth')])).toBe('images');
    expect(classifyDrop([f('cats', true)])).toBe('images');
    expect(classifyDrop([])).toBe('nothing');
  });
});
