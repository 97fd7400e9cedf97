// Who made the most parts (+1 per completed part, +0.5 per hand part helped on).
import { useEffect, useState } from "preact/hooks";
import { explain, json } from "./api";
import type { LeaderboardEntry } from "./types";
import { ErrorText } from "./ui";

export function Leaderboard(props: { version: string }) {
  const [rows, setRows] = useState<LeaderboardEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    json<{ leaderboard: LeaderboardEntry[] }>("/leaderboard")
      .then((body) => setRows(body.leaderboard))
      .catch((err) => setError(explain(err)));
  }, [props.version]);
  return (
    <section aria-labelledby="leaderboard-title">
      <h2 id="leaderboard-title">Leaderboard</h2>
      <p class="hint">+1 per completed part you made, +0.5 per hand-fab part you helped on.</p>
      <ErrorText message={error} />
      {rows && rows.length ? (
        <table class="leaderboard">
          <thead>
            <tr>
              <th scope="col">Rank</th>
              <th scope="col">Name</th>
              <th scope="col" class="num">Score</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name}>
                <td>{rows.findIndex((other) => other.score === row.score) + 1}</td>
                <td>{row.name}</td>
                <td class="num">{row.score}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : rows ? (
        <p class="empty">No completed parts yet.</p>
      ) : null}
    </section>
  );
}
