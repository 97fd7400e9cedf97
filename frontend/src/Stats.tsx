// Statistics with bar charts, and the end-of-season wipe behind a typed confirmation.
import { useEffect, useState } from "preact/hooks";
import { explain, json } from "./api";
import type { Counts, DetailedStats } from "./types";
import { Dialog, ErrorText, TextField } from "./ui";

const LABELS: Record<string, string> = {
  review: "Review", cnc: "CNC", hand: "Hand fab", misc: "Misc", completed: "Completed",
  pending: "Pending", reviewed: "Reviewed", in_progress: "In progress", already_started: "Already started", other: "Other",
  under_1h: "< 1 h", from_1h: "1–4 h", from_4h: "4–8 h", from_8h: "8–24 h", from_24h: "> 24 h",
};

// Rows in this order (tabs and statuses as the work flows, time buckets shortest first); any
// other key after them as the server sent it. Top contributors keep the server's ranking.
const ORDER = [
  "review", "cnc", "hand", "misc", "completed",
  "pending", "reviewed", "in_progress", "already_started", "other",
  "< 1 hour", "1-4 hours", "4-8 hours", "8-24 hours", "> 24 hours",
];

function ordered(counts: Counts): [string, number][] {
  const rank = (key: string) => (ORDER.includes(key) ? ORDER.indexOf(key) : ORDER.length);
  // Array.prototype.sort is stable: keys outside ORDER keep the server's order.
  return Object.entries(counts ?? {}).sort(([a], [b]) => rank(a) - rank(b));
}

function BarChart(props: { title: string; counts: Counts; unit: string; ranked?: boolean }) {
  const entries = props.ranked ? Object.entries(props.counts ?? {}) : ordered(props.counts);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <table>
        <tbody>
          {entries.map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{LABELS[key] ?? key}</th>
              <td>
                <span class="bar" style={{ width: `${(value / max) * 100}%` }} />
              </td>
              <td class="num">
                {value} <span class="visually-hidden">{value === 1 ? props.unit.replace(/s$/, "") : props.unit}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

export const WIPE_PHRASE = "wipe all parts";

function WipeDialog(props: { onClose: () => void; onWiped: () => void }) {
  const [phrase, setPhrase] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await json("/wipe", "POST", { password });
      props.onWiped();
    } catch (err) {
      // The server says "Incorrect password" (today's clients read it); this form asks for the key.
      const refused = (err as { status?: number }).status === 403;
      setError(refused ? "That API key is not right. Nothing was deleted." : explain(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Wipe for a new season" onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>This deletes every part and every uploaded file. It cannot be undone.</p>
        <TextField label={`Type "${WIPE_PHRASE}" to confirm`} value={phrase} onInput={setPhrase} required />
        <TextField label="API key" type="password" value={password} onInput={setPassword} required autoComplete="current-password" />
        <ErrorText message={error} />
        <div class="button-row">
          <button type="button" class="button secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="button danger" disabled={busy || phrase.trim().toLowerCase() !== WIPE_PHRASE || !password}>
            Wipe everything
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function Stats(props: { version: string; onWiped: () => void }) {
  const [stats, setStats] = useState<DetailedStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [wiping, setWiping] = useState(false);
  useEffect(() => {
    json<DetailedStats>("/stats/detailed")
      .then((s) => {
        setStats(s);
        setError(null);
      })
      .catch((err) => setError(explain(err)));
  }, [props.version]);

  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Statistics</h2>
      <ErrorText message={error} />
      {stats ? (
        <>
          <div class="tiles">
            <div class="tile"><span class="tile-value">{stats.total_parts}</span> units in {stats.part_count} parts</div>
            <div class="tile"><span class="tile-value">{stats.completed_parts}</span> units completed</div>
            <div class="tile"><span class="tile-value">{stats.in_progress_parts}</span> units in progress</div>
            <div class="tile">
              <span class="tile-value">{stats.average_completion_time_hours == null ? "–" : stats.average_completion_time_hours.toFixed(1)}</span> hours average from claim to done
            </div>
          </div>
          <div class="charts">
            <BarChart title="Units by tab" counts={stats.by_category} unit="units" />
            <BarChart title="Units by status" counts={stats.by_status} unit="units" />
            <BarChart title="Units by type" counts={stats.by_type} unit="units" />
            <BarChart title="Time from claim to done" counts={stats.completion_time_distribution} unit="units" />
            <BarChart
              title="Top contributors (completed units)"
              counts={Object.fromEntries(stats.top_contributors.map((c) => [c.name, c.count]))}
              unit="units"
              ranked
            />
          </div>
        </>
      ) : error ? null : (
        <p role="status">Loading statistics…</p>
      )}
      <section class="danger-zone" aria-labelledby="season-title">
        <h3 id="season-title">New season</h3>
        <p>Start over with an empty board. Download anything you need first.</p>
        <button type="button" class="button danger" onClick={() => setWiping(true)}>
          Wipe all parts…
        </button>
      </section>
      {wiping ? (
        <WipeDialog
          onClose={() => setWiping(false)}
          onWiped={() => {
            setWiping(false);
            props.onWiped();
          }}
        />
      ) : null}
    </section>
  );
}
