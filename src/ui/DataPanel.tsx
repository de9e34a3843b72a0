// Data panel: the demo set preselected; a drop zone, a "Choose image folder" button (directory
// picker, or <input webkitdirectory> where there is none), a zip chooser; counts, the skipped
// files with their reasons, and the virtualised thumbnail strip.
import { useRef, useState } from 'react';
import { directoryPickerAvailable, filesFromFileList, pickDirectory } from '../data/browser-folder.ts';
import { useAppStore } from '../store/store.ts';
import { useBridge } from './bridge-context.ts';
import { Panel } from './controls.tsx';
import { handleDrop } from './drop.ts';
import { ThumbnailStrip } from './ThumbnailStrip.tsx';

const SOURCE_NAMES = { demo: 'built-in demo photos', files: 'files', directory: 'folder', zip: 'zip' } as const;

export function DataPanel() {
  const dataset = useAppStore((s) => s.dataset);
  const status = useAppStore((s) => s.dataStatus);
  const message = useAppStore((s) => s.dataMessage);
  const progress = useAppStore((s) => s.dataProgress);
  const error = useAppStore((s) => s.dataError);
  const bridge = useBridge();
  const folderInput = useRef<HTMLInputElement>(null);
  const zipInput = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [showSkipped, setShowSkipped] = useState(false);

  const chooseFolder = async () => {
    if (!bridge) return;
    if (directoryPickerAvailable()) {
      const handle = await pickDirectory();
      if (handle) await bridge.loadDirectoryHandle(handle);
    } else folderInput.current?.click();
  };

  return (
    <Panel title="Data">
      <div
        className={`drop-zone${over ? ' over' : ''}`}
        data-testid="drop-zone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          e.stopPropagation();
          setOver(false);
          if (bridge) handleDrop(e.dataTransfer, bridge);
        }}
      >
        <p>Drop a folder of images (class subfolders become labels), a zip, or a checkpoint here.</p>
        <div className="buttons">
          <button type="button" onClick={() => void chooseFolder()} disabled={!bridge}>
            Choose image folder
          </button>
          <button type="button" onClick={() => zipInput.current?.click()} disabled={!bridge}>
            Choose zip
          </button>
          <button type="button" onClick={() => void bridge?.loadDemo()} disabled={!bridge || dataset?.source === 'demo'}>
            Use demo photos
          </button>
        </div>
        <input
          ref={folderInput}
          type="file"
          hidden
          multiple
          // webkitdirectory is not in React's types: set it as a plain attribute
          {...{ webkitdirectory: '' }}
          aria-label="Image folder"
          data-testid="folder-input"
          onChange={(e) => {
            const files = e.target.files;
            if (bridge && files && files.length) void bridge.loadListing(filesFromFileList(files));
            e.target.value = '';
          }}
        />
        <input
          ref={zipInput}
          type="file"
          hidden
          accept=".zip,application/zip"
          aria-label="Zip of images"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (bridge && f) void bridge.loadZip(f);
            e.target.value = '';
          }}
        />
      </div>
      {status === 'loading' && (
        <p role="status" className="hint">
          {message}
          {progress && progress.total > 0 ? ` ${progress.task} ${progress.done}/${progress.total}` : ''}
        </p>
      )}
      {error && (
        <p role="alert" className="warning">
          {error}
        </p>
      )}
      {dataset && (
        <>
          <dl className="figures" data-testid="dataset-summary">
            <dt>Dataset</dt>
            <dd data-testid="dataset-name">
              {dataset.source === 'demo' ? 'Demo photos' : dataset.name} ({SOURCE_NAMES[dataset.source]})
            </dd>
            <dt>Images</dt>
            <dd data-testid="image-count">{dataset.images}</dd>
            <dt>Classes</dt>
            <dd>{dataset.classes.length > 0 ? `${dataset.classes.length} (${dataset.classes.slice(0, 6).join(', ')}${dataset.classes.length > 6 ? ', …' : ''})` : 'none (unlabelled)'}</dd>
            <dt>Skipped</dt>
            <dd>
              <span data-testid="skipped-count">{dataset.skipped.length}</span>
              {dataset.skipped.length > 0 && (
                <>
                  {' '}
                  <button type="button" className="link" aria-expanded={showSkipped} onClick={() => setShowSkipped((v) => !v)}>
                    {showSkipped ? 'hide' : 'show why'}
                  </button>
                </>
              )}
              {!dataset.verified && dataset.images > 0 && <span className="hint"> · {dataset.decoded} decoded so far</span>}
            </dd>
          </dl>
          {showSkipped && dataset.skipped.length > 0 && (
            <div className="skipped-list" data-testid="skipped-list">
              <table>
                <thead>
                  <tr>
                    <th scope="col">File</th>
                    <th scope="col">Why skipped</th>
                  </tr>
                </thead>
                <tbody>
                  {dataset.skipped.slice(0, 500).map((f) => (
                    <tr key={f.path}>
                      <td>{f.path}</td>
                      <td>{f.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {dataset.skipped.length > 500 && <p className="hint">…and {dataset.skipped.length - 500} more.</p>}
            </div>
          )}
          <ThumbnailStrip />
        </>
      )}
    </Panel>
  );
}
