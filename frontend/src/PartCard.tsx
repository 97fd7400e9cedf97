// A part on the board: what it is, who has it, where it stands, and the next step as a button.
import { memo } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { blobUrl } from "./api";
import type { ActionKind } from "./actions";
import { hasViews, partName, statusClass, storageOf, TYPE_LABELS } from "./labels";
import type { Part } from "./types";

/** The next steps a part in this tab offers. */
export function ActionButtons(props: { part: Part; onAction: (kind: ActionKind, part: Part) => void }) {
  const { part, onAction } = props;
  const name = partName(part);
  const button = (kind: ActionKind, label: string, primary = false) => (
    <button
      type="button"
      key={kind}
      class={primary ? "button primary" : "button secondary"}
      aria-label={`${label} ${name}`}
      onClick={() => onAction(kind, part)}
    >
      {label}
    </button>
  );
  switch (part.category) {
    case "review":
      return button("approve", "Approve", true);
    case "cnc":
    case "hand":
    case "misc":
      return (
        <>
          {part.assigned ? button("unclaim", "Unclaim") : button("claim", "Claim", true)}
          {button("complete", "Complete", Boolean(part.assigned))}
        </>
      );
    case "completed":
      return button("revert", "Revert");
    default:
      return null;
  }
}

function Thumbnail(props: { part: Part }) {
  const { part } = props;
  const [url, setUrl] = useState<string | null>(null);
  const show = hasViews(part);
  useEffect(() => {
    if (!show) return;
    let revoked = false;
    let made: string | null = null;
    blobUrl(`/${part.id}/views/0`)
      .then((u) => {
        made = u;
        if (revoked) URL.revokeObjectURL(u);
        else setUrl(u);
      })
      .catch(() => setUrl(null));
    return () => {
      revoked = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [part.id, show, part.updatedAt]);
  if (url) return <img class="thumb" src={url} alt="" />;
  const letter = part.type === "cnc" ? "CNC" : part.type === "hand" ? "HAND" : "MISC";
  return (
    <div class="thumb placeholder" aria-hidden="true">
      {letter}
    </div>
  );
}

function modelNote(part: Part): string | null {
  if (part.modelStatus === "pending") return "3D model converting…";
  if (part.modelStatus === "failed") return "3D model failed";
  if (part.modelStatus === "ready") return "3D model ready";
  return null;
}

function Card(props: { part: Part; onOpen: (part: Part) => void; onAction: (kind: ActionKind, part: Part) => void }) {
  const { part } = props;
  const name = partName(part);
  const storage = storageOf(part);
  const note = modelNote(part);
  return (
    <li class="card" data-part-id={part.id}>
      <Thumbnail part={part} />
      <div class="card-main">
        <h3 aria-label={name}>
          <button type="button" class="link-button" onClick={() => props.onOpen(part)} aria-label={`Open ${name}`}>
            {name}
          </button>
        </h3>
        <p class="meta">
          <span class={`badge ${statusClass(part.status)}`}>{part.status}</span>
          <span>× {part.amount}</span>
          <span>{TYPE_LABELS[part.type ?? ""] ?? part.type}</span>
        </p>
        <p class="meta">
          {[part.material, part.materialThickness].filter(Boolean).join(" · ")} — {part.subsystem}
        </p>
        <p class="meta">{part.assigned ? `Assigned to ${part.assigned}` : "Unassigned"}</p>
        {storage ? <p class="meta">Stored: {storage}</p> : null}
        {note ? <p class={`meta model-${part.modelStatus}`}>{note}</p> : null}
        <div class="card-actions">
          <ActionButtons part={part} onAction={props.onAction} />
        </div>
      </div>
    </li>
  );
}

// A card re-renders only when its part object changes (the store keeps unchanged ones).
export const PartCard = memo(Card);
