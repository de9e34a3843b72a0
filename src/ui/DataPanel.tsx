// Data panel: the demo set preselected; a drop zone, a "Choose image folder" button (directory
// picker, or <input webkitdirectory> where there is none), a zip chooser; counts, the skipped
// files with their reasons, and the virtualised thumbnail strip. While a set loads: a progress
// bar with a count; once loaded: the decoded-image cache's use against its byte budget. What the
// user picks before the engine is ready is queued (user-choices.ts) and the panel says so.
import { useRef, useState } from 'react';
import { directoryPickerAvailable, filesFromFileList, pickDirectory } from '../data/browser-folder.ts';
import { useAppStore } from '../store/store.ts';
import { Panel } from './controls.tsx';
import { cacheView, progressView } from './data-progress.ts';
import { demoChoice, directoryChoice, handleDrop, listingChoice, zipChoice } from './drop.ts';
import { ThumbnailStrip } from './ThumbnailStrip.tsx';
import { userChoices } from './user-choices.ts';

const SOURCE_NAMES = { demo: 'built-in demo photos', files: 'files', directory: 'folder', zip: 'zip' } as const;

export function DataPanel() {
  const dataset = useAppStore((s) => s.dataset);
  const status = useAppStore((s) => s.dataStatus);
  const message = useAppStore((s) => s.dataMessage);
  const progress = useAppStore((s) => s.dataProgress);
  const error = useAppStore((s) => s.dataError);
  const queued = useAppStore((s) => s.dataQueued);
  const folderInput = useRef<HTMLInputElement>(null);
  const zipInput = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [showSkipped, setShowSkipped] = useState(false);

  const chooseFolder = async () => {
    if (directoryPickerAvailable()) {
      const handle = await pickDirectory();
      if (handle) userChoices.submit(directoryChoice(handle));
    } else folderInput.current?.click();
  };
  const shown = progress ? progressView(progress) : null;
  const decoding = status === 'ready' && progress?.task === 'decode' && progress.done < progress.total;

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
          handleDrop(e.dataTransfer, userChoices);
        }}
      >
        <p>Drop a folder of images (class subfolders become labels), a zip, or a checkpoint here.</p>
        <div className="buttons">
          <button type="button" onClick={() => void chooseFolder()}>
            Choose image folder
          </button>
          <button type="button" onClick={() => zipInput.current?.click()}>
            Choose zip
          </button>
          <button type="button" onClick={() => userChoices.submit(demoChoice())} disabled={dataset?.source === 'demo'}>
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
            if (files && files.length) {
              const listing = filesFromFileList(files);
              userChoices.submit(listingChoice(listing.name, listing));
            }
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
            if (f) userChoices.submit(zipChoice(f));
            e.target.value = '';
          }}
        />
      </div>
      {queued && (
        <p role="status" className="hint" data-testid="data-queued">
          {queued}
        </p>
      )}
      {(status === 'loading' || decoding) && (
        <div role="status" className="hint data-progress" data-testid="data-progress">
          {status === 'loading' && <span>{message} </span>}
          {shown && (
            <>
              <progress max={1} value={shown.fraction ?? undefined} aria-label={shown.text} />{' '}
              <span data-testid="data-progress-count">{shown.text}</span>
            </>
          )}
        </div>
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
            <dt>Pixel cache</dt>
            <dd data-testid="cache-usage" title="Decoded, resized images kept for the next epochs; beyond the budget they spill to disk or are decoded again">
              {cacheView(dataset.cache)}
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
