// The workflow actions, each a small dialog: approve, claim, unclaim, complete, revert, delete.
import { useState } from "preact/hooks";
import { action, explain, getActor, getPart, request, updatePart } from "./api";
import { partName, storageOf } from "./labels";
import type { Part } from "./types";
import { Dialog, ErrorText, TextField } from "./ui";

export type ActionKind = "approve" | "claim" | "unclaim" | "complete" | "revert" | "delete";

// The last name a claim was made for (a claim may be for someone else than the signed-in name).
const NAME_STORAGE = "aerie.myName";

const TITLES: Record<ActionKind, string> = {
  approve: "Approve part",
  claim: "Claim part",
  unclaim: "Unclaim part",
  complete: "Complete part",
  revert: "Revert part",
  delete: "Delete part",
};

const CONFIRM: Record<ActionKind, string> = {
  approve: "Approve",
  claim: "Claim",
  unclaim: "Unclaim",
  complete: "Mark complete",
  revert: "Revert",
  delete: "Delete permanently",
};

async function perform(kind: ActionKind, part: Part, text: string): Promise<Part | null> {
  switch (kind) {
    case "approve":
      return action(part.id, "approve", text ? { reviewer: text } : {});
    case "claim":
      localStorage.setItem(NAME_STORAGE, text);
      return action(part.id, "assign", { assigned: text });
    case "complete":
      return action(part.id, "complete", text ? { miscInfo: { storage: text } } : {});
    case "unclaim": {
      if (text) {
        // PUT replaces miscInfo: send the current one plus the location, guarded by If-Match.
        const { part: fresh, etag } = await getPart(part.id);
        await updatePart(part.id, { miscInfo: { ...(fresh.miscInfo ?? {}), storage: text } }, etag);
      }
      return action(part.id, "unclaim");
    }
    case "revert":
      return action(part.id, "revert");
    case "delete":
      await request(`/${part.id}`, { method: "DELETE" });
      return null;
  }
}

export function ActionDialog(props: {
  kind: ActionKind;
  part: Part;
  onClose: () => void;
  onDone: (part: Part | null) => void;
  onRefused: () => void;
}) {
  const { kind, part } = props;
  const initial =
    kind === "approve"
      ? getActor()
      : kind === "claim"
        ? getActor() || (localStorage.getItem(NAME_STORAGE) ?? "")
        : kind === "complete" || kind === "unclaim"
          ? storageOf(part) ?? ""
          : "";
  const [text, setText] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onDone(await perform(kind, part, text.trim()));
    } catch (err) {
      setError(explain(err));
      setBusy(false);
      props.onRefused(); // show the part as it is now, behind the message
    }
  };

  return (
    <Dialog title={TITLES[kind]} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p class="lead">
          <strong>{partName(part)}</strong>
          {part.amount > 1 ? ` × ${part.amount}` : ""}
        </p>
        {kind === "approve" ? <TextField label="Reviewer" value={text} onInput={setText} autoFocus hint="Who reviewed the design (optional)." /> : null}
        {kind === "claim" && storageOf(part) ? (
          <section class="stored-location" aria-label="Stored location">
            <h3>Stored location</h3>
            <p>
              Retrieve the part from this location: <strong>{storageOf(part)}</strong>
            </p>
          </section>
        ) : null}
        {kind === "claim" ? <TextField label="Your name" value={text} onInput={setText} required autoFocus autoComplete="name" /> : null}
        {kind === "complete" || kind === "unclaim" ? (
          <TextField
            label="Storage location"
            value={text}
            onInput={setText}
            autoFocus
            hint={kind === "complete" ? "Where the finished part is, e.g. Shelf B (optional)." : "Where the unfinished part is left (optional)."}
          />
        ) : null}
        {kind === "revert" ? <p>The part goes back to its tab so it can be made again.</p> : null}
        {kind === "delete" ? <p>This deletes the part and its files. It cannot be undone.</p> : null}
        <ErrorText message={error} />
        <div class="button-row">
          <button type="button" class="button secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class={kind === "delete" ? "button danger" : "button primary"} disabled={busy}>
            {CONFIRM[kind]}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
