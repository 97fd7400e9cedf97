// The part's 3D model: converting (retried as the server says), failed (why), or the viewer.
import { useEffect, useRef, useState } from "preact/hooks";
import { explain, request } from "./api";
import { hasViews } from "./labels";
import type { Part } from "./types";
import type { Viewer } from "./viewer";

type State =
  | { kind: "loading" }
  | { kind: "pending" }
  | { kind: "failed"; message: string }
  | { kind: "ready"; names: string[] };

// The smallest GLB (meshopt-compressed, README "3D models") where the viewer's decoder can run.
const MODEL_QUERY = typeof WebAssembly === "object" ? "?compression=meshopt" : "";

/** Save a preview image once, so the board's card shows a thumbnail of the model. */
async function saveThumbnail(part: Part, viewer: Viewer): Promise<void> {
  if (hasViews(part)) return;
  const png = await viewer.snapshot();
  if (!png) return;
  const form = new FormData();
  form.append("view_0", png, "view_0.png");
  await request(`/${part.id}/views`, { method: "POST", body: form }).catch(() => undefined);
}

export function ModelPanel(props: { part: Part }) {
  const { part } = props;
  const [state, setState] = useState<State>({ kind: "loading" });
  const [selected, setSelected] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const viewer = useRef<Viewer | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer = 0;
    const load = async () => {
      try {
        const response = await request(`/${part.id}/model${MODEL_QUERY}`);
        if (stopped) return;
        if (response.status === 202) {
          setState({ kind: "pending" });
          const wait = Number(response.headers.get("Retry-After")) || 3;
          timer = window.setTimeout(load, Math.min(wait, 10) * 1000);
          return;
        }
        const [glb, { mountViewer }] = await Promise.all([response.arrayBuffer(), import("./viewer")]);
        if (stopped || !box.current) return;
        viewer.current = await mountViewer(box.current, glb);
        setState({ kind: "ready", names: viewer.current.names });
        saveThumbnail(part, viewer.current);
      } catch (err) {
        if (!stopped) setState({ kind: "failed", message: explain(err) });
      }
    };
    load();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      viewer.current?.dispose();
    };
  }, [part.id, part.file]);

  return (
    <section class="model" aria-label="3D model">
      {state.kind === "loading" ? <p class="model-note" role="status">Loading the 3D model…</p> : null}
      {state.kind === "pending" ? (
        <p class="model-note" role="status">
          <span class="spinner" aria-hidden="true" /> Converting the STEP file to a 3D model… this page updates when it is ready.
        </p>
      ) : null}
      {state.kind === "failed" ? (
        <p class="model-note error" role="alert">
          No 3D model: {state.message}
        </p>
      ) : null}
      <div ref={box} class={state.kind === "ready" ? "model-canvas" : "model-canvas hidden"} />
      {state.kind === "ready" ? (
        <div class="model-tools">
          <button type="button" class="button secondary" onClick={() => viewer.current?.fit()}>
            Fit to view
          </button>
          {state.names.length > 1 ? (
            <ul class="mesh-list" aria-label="Parts in this model">
              {state.names.map((name) => (
                <li key={name}>
                  <button
                    type="button"
                    class="chip"
                    aria-pressed={selected === name}
                    onClick={() => {
                      const next = selected === name ? null : name;
                      setSelected(next);
                      viewer.current?.highlight(next);
                    }}
                  >
                    {name}
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
