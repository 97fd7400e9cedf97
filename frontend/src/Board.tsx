// One tab of the board: search, filters, sort, and the part cards.
import { useMemo, useState } from "preact/hooks";
import type { ActionKind } from "./actions";
import { partName } from "./labels";
import { PartCard } from "./PartCard";
import type { Part } from "./types";
import { SelectField } from "./ui";

const SORTS: Record<string, (a: Part, b: Part) => number> = {
  newest: (a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id,
  name: (a, b) => partName(a).localeCompare(partName(b)),
  status: (a, b) => a.status.localeCompare(b.status),
  assigned: (a, b) => (a.assigned ?? "~").localeCompare(b.assigned ?? "~"),
  subsystem: (a, b) => (a.subsystem ?? "").localeCompare(b.subsystem ?? ""),
};

/** The values this tab's parts have, and the chosen one: a filter set on another tab stays
 * visible (and clearable) here even when no part of this tab has that value. */
function distinct(parts: Part[], pick: (part: Part) => string | null, chosen: string): string[] {
  return [...new Set([...parts.map(pick), chosen].filter((v): v is string => Boolean(v)))].sort();
}

function matches(part: Part, query: string): boolean {
  if (!query) return true;
  const haystack = [part.name, part.partId, part.material, part.subsystem, part.assigned, part.notes, part.status]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return haystack.includes(query);
}

export function Board(props: {
  title: string;
  parts: Part[];
  onOpen: (part: Part) => void;
  onAction: (kind: ActionKind, part: Part) => void;
}) {
  const [search, setSearch] = useState("");
  const [subsystem, setSubsystem] = useState("");
  const [material, setMaterial] = useState("");
  const [status, setStatus] = useState("");
  const [sort, setSort] = useState("newest");

  const shown = useMemo(() => {
    const query = search.trim().toLowerCase();
    return props.parts
      .filter(
        (p) =>
          matches(p, query) &&
          (!subsystem || p.subsystem === subsystem) &&
          (!material || p.material === material) &&
          (!status || p.status === status),
      )
      .sort(SORTS[sort]);
  }, [props.parts, search, subsystem, material, status, sort]);

  const all = (label: string, values: string[]): [string, string][] => [["", label], ...values.map((v): [string, string] => [v, v])];
  const filtered = Boolean(search.trim() || subsystem || material || status);
  const clear = () => {
    setSearch("");
    setSubsystem("");
    setMaterial("");
    setStatus("");
  };

  return (
    <section aria-labelledby="board-title">
      <h2 id="board-title" class="visually-hidden">
        {props.title}
      </h2>
      <div class="filters" role="search">
        <div class="field grow">
          <label for="search">Search</label>
          <input id="search" type="search" value={search} placeholder="Name, material, person…" onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        </div>
        <SelectField label="Subsystem" value={subsystem} onChange={setSubsystem} options={all("All subsystems", distinct(props.parts, (p) => p.subsystem, subsystem))} />
        <SelectField label="Material" value={material} onChange={setMaterial} options={all("All materials", distinct(props.parts, (p) => p.material, material))} />
        <SelectField label="Status" value={status} onChange={setStatus} options={all("All statuses", distinct(props.parts, (p) => p.status, status))} />
        <SelectField
          label="Sort by"
          value={sort}
          onChange={setSort}
          options={[
            ["newest", "Newest first"],
            ["name", "Name"],
            ["status", "Status"],
            ["assigned", "Assignee"],
            ["subsystem", "Subsystem"],
          ]}
        />
      </div>
      <p class="count" role="status">
        {shown.length === props.parts.length
          ? `${shown.length} ${shown.length === 1 ? "part" : "parts"}`
          : `${shown.length} of ${props.parts.length} parts`}
      </p>
      {shown.length ? (
        <ul class="cards" aria-label={`${props.title} parts`}>
          {shown.map((part) => (
            <PartCard key={part.id} part={part} onOpen={props.onOpen} onAction={props.onAction} />
          ))}
        </ul>
      ) : (
        <p class="empty">
          No parts here{props.parts.length ? " match the filters" : " yet"}.{" "}
          {filtered ? (
            <button type="button" class="button secondary small" onClick={clear}>
              Clear filters
            </button>
          ) : null}
        </p>
      )}
    </section>
  );
}
