// A part's history: who changed what and when, newest first, a page at a time.
import { useEffect, useRef, useState } from "preact/hooks";
import { explain, partHistory, type PartEvent } from "./api";
import { TABS } from "./labels";
import { ErrorText } from "./ui";

const PAGE = 20;

const FIELDS: Record<string, string> = {
  partId: "part ID", type: "type", name: "name", material: "material", materialThickness: "thickness",
  subsystem: "subsystem", assigned: "assigned to", status: "status", category: "tab", miscInfo: "extra info",
  notes: "notes", file: "file", onshapeUrl: "Onshape link", claimedDate: "claimed", amount: "amount",
};
const INFO: Record<string, string> = {
  storage: "storage", reviewer: "reviewer", serviceMethod: "service", completedIncorrectly: "made incorrectly",
  completed_at: "completed", handWorkers: "helpers",
};
// A tab as the board names it, not the server's category value.
const TAB_NAMES: Record<string, string> = Object.fromEntries(TABS.map((tab) => [tab.id, tab.label]));
const ACTIONS: Record<string, string> = {
  create: "created the part", update: "changed the part", approve: "approved", claim: "claimed",
  unclaim: "unclaimed", complete: "completed", revert: "reverted",
};

type Change = { from?: unknown; to?: unknown };

function shown(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return new Date(value).toLocaleString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A hand part's helpers by name ("Ann, Bo"), not as the stored list of {name, timestamp}. */
function helperNames(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((helper) => asRecord(helper).name).filter((name) => typeof name === "string").join(", ");
}

/** "field: old → new" for each change; miscInfo is opened one level (storage, reviewer …). */
function changeLines(changes: Record<string, Change>): string[] {
  const lines: string[] = [];
  for (const [field, change] of Object.entries(changes)) {
    if (field === "miscInfo") {
      const before = asRecord(change.from);
      const after = asRecord(change.to);
      for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
        const value = (v: unknown) => (key === "handWorkers" ? helperNames(v) : v);
        lines.push(`${INFO[key] ?? key}: ${shown(value(before[key]))} → ${shown(value(after[key]))}`);
      }
      continue;
    }
    const name = (value: unknown) => (field === "category" && typeof value === "string" ? TAB_NAMES[value] ?? value : value);
    lines.push(`${FIELDS[field] ?? field}: ${shown(name(change.from))} → ${shown(name(change.to))}`);
  }
  return lines;
}

function size(bytes: unknown): string {
  if (typeof bytes !== "number") return "";
  return bytes >= 1_048_576 ? `, ${(bytes / 1_048_576).toFixed(1)} MB` : `, ${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** What happened, in words, and the lines under it. */
export function describe(event: PartEvent): { what: string; lines: string[] } {
  const d = event.details;
  switch (event.action) {
    case "upload":
    case "replace":
      return { what: `${event.action === "replace" ? "replaced the file with" : "uploaded"} ${shown(d.file)}${size(d.size)}`, lines: [] };
    case "conversion":
      return d.modelStatus === "ready"
        ? { what: "converted the STEP file: 3D model ready", lines: [] }
        : { what: `could not convert the STEP file${d.modelError ? `: ${shown(d.modelError)}` : ""}`, lines: [] };
    case "onshape_export": {
      const kind = d.kind === "drawing" ? "drawing (PDF)" : "STEP model";
      return d.status === "done"
        ? { what: `exported the ${kind} from Onshape${d.file ? `: ${shown(d.file)}` : ""}`, lines: [] }
        : { what: `could not export the ${kind} from Onshape (${shown(d.error)})`, lines: [] };
    }
    case "delete":
      return { what: d.wipe ? "deleted the part in the season wipe" : "deleted the part", lines: [] };
    case "create": {
      const set = Object.entries(asRecord(d.changes) as Record<string, Change>).filter(([, c]) => c.to !== null && c.to !== "");
      return { what: ACTIONS.create, lines: changeLines(Object.fromEntries(set)) };
    }
    default: {
      const via = d.via === "update" ? " (by editing)" : "";
      return { what: `${ACTIONS[event.action] ?? event.action}${via}`, lines: changeLines(asRecord(d.changes) as Record<string, Change>) };
    }
  }
}

/** The history section of a part's details; `version` changes whenever the part does. */
export function History(props: { partId: number; version: string }) {
  const [events, setEvents] = useState<PartEvent[]>([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // The oldest event shown: a refresh keeps everything from it on, new events on top.
  const oldest = useRef<number | null>(null);
  const show = (list: PartEvent[], all: number) => {
    oldest.current = list.length ? list[list.length - 1].id : null;
    setEvents(list);
    setTotal(all);
    setError(null);
  };

  useEffect(() => {
    let stopped = false;
    const from = oldest.current;
    partHistory(props.partId, from === null ? PAGE : Math.max(events.length, PAGE) + PAGE, 0)
      .then((page) => {
        if (stopped) return;
        show(from === null ? page.events : page.events.filter((e) => e.id >= from), page.total);
      })
      .catch((err) => !stopped && setError(explain(err)))
      .finally(() => !stopped && setLoading(false));
    return () => {
      stopped = true;
    };
  }, [props.partId, props.version]);

  const more = async () => {
    setLoading(true);
    try {
      const page = await partHistory(props.partId, PAGE, events.length);
      const known = new Set(events.map((e) => e.id));
      show([...events, ...page.events.filter((e) => !known.has(e.id))], page.total);
    } catch (err) {
      setError(explain(err));
    }
    setLoading(false);
  };

  return (
    <section class="history" aria-labelledby={`history-${props.partId}`}>
      <h3 id={`history-${props.partId}`}>History</h3>
      <ErrorText message={error} />
      {events.length === 0 && !loading && !error ? <p class="empty">No changes recorded yet.</p> : null}
      <ol class="events" aria-label="Changes, newest first">
        {events.map((event) => {
          const { what, lines } = describe(event);
          return (
            <li key={event.id}>
              <time dateTime={event.at}>{new Date(event.at).toLocaleString()}</time>{" "}
              <strong>{event.actor}</strong> {what}
              {lines.length ? (
                <ul class="changes">
                  {lines.map((line, index) => (
                    <li key={index}>{line}</li>
                  ))}
                </ul>
              ) : null}
            </li>
          );
        })}
      </ol>
      {events.length < total ? (
        <button type="button" class="button secondary" disabled={loading} onClick={more}>
          Show more ({total - events.length} older)
        </button>
      ) : null}
      {loading && events.length === 0 ? <p class="empty">Loading the history…</p> : null}
    </section>
  );
}
