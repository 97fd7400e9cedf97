// One part: every field, its file, its 3D model and what can be done with it next.
import { useState } from "preact/hooks";
import { blobUrl, explain, getPart, updatePart } from "./api";
import type { ActionKind } from "./actions";
import { partName, storageOf, TYPE_LABELS } from "./labels";
import { History } from "./History";
import { ModelPanel } from "./ModelPanel";
import { OnshapeActions } from "./onshape";
import type { Part } from "./types";
import { Dialog, ErrorText } from "./ui";
import { ActionButtons } from "./PartCard";

const STEP = /\.(step|stp)$/i;

export function PartDetails(props: {
  part: Part;
  onClose: () => void;
  onAction: (kind: ActionKind | "edit", part: Part) => void;
  onSaved: (part: Part) => void;
  onSettings: () => void;
}) {
  const { part } = props;
  const flagged = part.miscInfo?.completedIncorrectly === true;

  // The leaderboard counts a part made wrong as -1 for its maker instead of +1.
  const toggleFlag = async () => {
    try {
      const { part: fresh, etag } = await getPart(part.id);
      const info: Record<string, unknown> = { ...(fresh.miscInfo ?? {}) };
      if (flagged) delete info.completedIncorrectly;
      else info.completedIncorrectly = true;
      props.onSaved(await updatePart(part.id, { miscInfo: Object.keys(info).length ? info : null }, etag));
      setError(null);
    } catch (err) {
      setError(explain(err));
    }
  };
  const [error, setError] = useState<string | null>(null);
  const reviewer = part.miscInfo?.reviewer;
  const service = part.miscInfo?.serviceMethod;

  const download = async (inline: boolean) => {
    try {
      const url = await blobUrl(`/${part.id}/${inline ? "file" : "download"}`);
      const link = document.createElement("a");
      link.href = url;
      if (inline) link.target = "_blank";
      else link.download = part.file ?? "part";
      link.click();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setError(explain(err));
    }
  };

  const rows: [string, string | null | undefined][] = [
    ["Part ID", part.partId],
    ["Type", TYPE_LABELS[part.type ?? ""] ?? part.type],
    ["Status", part.status],
    ["Amount", String(part.amount)],
    ["Material", [part.material, part.materialThickness].filter(Boolean).join(", ")],
    ["Subsystem", part.subsystem],
    ["Assigned to", part.assigned],
    ["Claimed", part.claimedDate ? new Date(part.claimedDate).toLocaleString() : null],
    ["Vendor or service", typeof service === "string" ? service : null],
    ["Reviewer", typeof reviewer === "string" ? reviewer : null],
    ["Storage", storageOf(part)],
    ["Notes", part.notes],
    ["Quality", flagged ? "Flagged: made incorrectly (counts −1 on the leaderboard)" : null],
  ];

  return (
    <Dialog title={partName(part)} onClose={props.onClose} wide>
      <div class="details">
        <dl class="facts">
          {rows
            .filter(([, value]) => value)
            .map(([label, value]) => (
              <div key={label}>
                <dt>{label}</dt>
                <dd>{value}</dd>
              </div>
            ))}
          {part.onshapeUrl ? (
            <div>
              <dt>Onshape</dt>
              <dd>
                <a href={part.onshapeUrl} target="_blank" rel="noreferrer noopener">
                  Open in Onshape
                </a>
              </dd>
            </div>
          ) : null}
          {part.file ? (
            <div>
              <dt>File</dt>
              <dd class="file-line">
                <span>{part.file}</span>
                <button type="button" class="button secondary small" onClick={() => download(false)}>
                  Download file
                </button>
                {/\.pdf$/i.test(part.file) ? (
                  <button type="button" class="button secondary small" onClick={() => download(true)}>
                    Open PDF
                  </button>
                ) : null}
              </dd>
            </div>
          ) : null}
        </dl>
        {part.file && STEP.test(part.file) ? <ModelPanel part={part} /> : null}
      </div>
      <OnshapeActions part={part} onSaved={props.onSaved} onSettings={props.onSettings} />
      <ErrorText message={error} />
      <div class="button-row wrap">
        <ActionButtons part={part} onAction={props.onAction} />
        {part.category === "completed" && part.assigned ? (
          <button type="button" class="button secondary" aria-pressed={flagged} onClick={toggleFlag}>
            Made incorrectly
          </button>
        ) : null}
        <button type="button" class="button secondary" onClick={() => props.onAction("edit", part)}>
          Edit
        </button>
        <button type="button" class="button danger-outline" onClick={() => props.onAction("delete", part)}>
          Delete
        </button>
      </div>
      <History partId={part.id} version={`${part.updatedAt}|${part.modelStatus}|${part.file}`} />
    </Dialog>
  );
}
