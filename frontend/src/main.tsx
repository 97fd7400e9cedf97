// The app shell: sign-in, the tabs (hash routes, so any BASE_PATH works), dialogs, messages.
import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { getKey, setActor, setKey, whenUnauthorised } from "./api";
import { ActionDialog, type ActionKind } from "./actions";
import { Board } from "./Board";
import { TABS } from "./labels";
import { Leaderboard } from "./Leaderboard";
import { SETTINGS_LABEL, takeOnshapeReturn } from "./onshape";
import { Login } from "./Login";
import { PartDetails } from "./PartDetails";
import { PartForm } from "./PartForm";
import { SettingsDialog } from "./Settings";
import { Stats } from "./Stats";
import { useBoard } from "./store";
import type { Part } from "./types";
import "./styles.css";

type Screen = (typeof TABS)[number]["id"] | "leaderboard" | "stats";
const SCREENS: { id: Screen; label: string }[] = [...TABS, { id: "leaderboard", label: "Leaderboard" }, { id: "stats", label: "Stats" }];

type Open =
  | { kind: "details"; id: number }
  | { kind: "form"; part: Part | null }
  | { kind: "action"; action: ActionKind; part: Part }
  | { kind: "settings" }
  | null;

// Back from Onshape's sign-in (?onshape_connected / ?onshape_error): said once, then forgotten.
const ONSHAPE_RETURN = takeOnshapeReturn();

function screenFromHash(): Screen {
  const id = window.location.hash.replace(/^#\/?/, "");
  return SCREENS.some((s) => s.id === id) ? (id as Screen) : "review";
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(getKey()));
  const [loginReason, setLoginReason] = useState<string | null>(null);
  const [screen, setScreen] = useState<Screen>(screenFromHash());
  const [open, setOpen] = useState<Open>(null);
  const [notice, setNotice] = useState<string | null>(ONSHAPE_RETURN);
  const board = useBoard(signedIn);

  useEffect(() => {
    whenUnauthorised(() => {
      setKey(null);
      setSignedIn(false);
      setLoginReason("The API key was refused. Sign in again.");
    });
    const onHash = () => setScreen(screenFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    const label = SCREENS.find((s) => s.id === screen)?.label;
    document.title = `${label} · Aerie Part Management`;
  }, [screen]);

  const byCategory = useMemo(() => {
    const groups: Record<string, Part[]> = {};
    for (const part of board.parts) (groups[part.category] ??= []).push(part);
    return groups;
  }, [board.parts]);
  // Changes whenever a part is added, changed or removed: stats and scores are fetched again.
  const version = useMemo(
    () => `${board.parts.length}|${board.parts.reduce((latest, p) => (p.updatedAt > latest ? p.updatedAt : latest), "")}`,
    [board.parts],
  );

  const onOpen = useCallback((part: Part) => setOpen({ kind: "details", id: part.id }), []);
  const onSettings = useCallback(() => setOpen({ kind: "settings" }), []);
  const onAction = useCallback((kind: ActionKind | "edit", part: Part) => {
    setOpen(kind === "edit" ? { kind: "form", part } : { kind: "action", action: kind, part });
  }, []);

  if (!signedIn) {
    return (
      <Login
        reason={loginReason}
        onKey={(key) => {
          setKey(key);
          setLoginReason(null);
          setSignedIn(true);
          // Into the board, not back to the top of an empty page (the form is gone).
          window.setTimeout(() => document.getElementById("content")?.focus(), 0);
        }}
      />
    );
  }

  const detailsPart = open?.kind === "details" ? board.parts.find((p) => p.id === open.id) : undefined;
  const suggestions = {
    subsystems: [...new Set(board.parts.map((p) => p.subsystem ?? "").filter(Boolean))].sort(),
    materials: [...new Set(board.parts.map((p) => p.material ?? "").filter(Boolean))].sort(),
  };
  const current = SCREENS.find((s) => s.id === screen)!;

  return (
    <>
      <a
        class="skip-link"
        href="#content"
        onClick={(event) => {
          // The hash is the route: move focus without changing it.
          event.preventDefault();
          document.getElementById("content")?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <h1>Aerie Parts</h1>
        <div class="top-actions">
          <button type="button" class="button primary" onClick={() => setOpen({ kind: "form", part: null })}>
            Add part
          </button>
          <button type="button" class="button secondary" onClick={onSettings}>
            {SETTINGS_LABEL}
          </button>
          <button
            type="button"
            class="button secondary"
            onClick={() => {
              // A shared laptop: the next person signs in as themselves, not as the last one.
              setKey(null);
              setActor("");
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <nav class="tabs" aria-label="Sections">
        {SCREENS.map((s) => {
          const count = byCategory[s.id]?.length;
          return (
            <a key={s.id} href={`#/${s.id}`} aria-current={s.id === screen ? "page" : undefined} class="tab">
              {s.label}
              {count !== undefined || TABS.some((t) => t.id === s.id) ? <span class="tab-count"> ({count ?? 0})</span> : null}
            </a>
          );
        })}
      </nav>
      <main id="content" tabIndex={-1}>
        {board.error ? (
          <p class="error" role="alert">
            The board could not be refreshed ({board.error}). Retrying…
          </p>
        ) : null}
        {notice ? (
          <p class="notice" role="status">
            {notice}
            <button type="button" class="icon-button" aria-label="Dismiss message" onClick={() => setNotice(null)}>
              ✕
            </button>
          </p>
        ) : null}
        {screen === "leaderboard" ? (
          <Leaderboard version={version} />
        ) : screen === "stats" ? (
          <Stats
            version={version}
            onWiped={() => {
              setNotice("Every part and file was wiped. The board is empty for the new season.");
              board.refresh();
            }}
          />
        ) : !board.loaded ? (
          <p role="status">Loading parts…</p>
        ) : (
          <Board title={current.label} parts={byCategory[screen] ?? []} onOpen={onOpen} onAction={onAction} />
        )}
      </main>
      {detailsPart ? <PartDetails part={detailsPart} onClose={() => setOpen(null)} onAction={onAction} onSaved={board.put} onSettings={onSettings} /> : null}
      {open?.kind === "settings" ? <SettingsDialog title={SETTINGS_LABEL} onClose={() => setOpen(null)} /> : null}
      {open?.kind === "form" ? (
        <PartForm
          part={open.part}
          suggestions={suggestions}
          onClose={() => setOpen(null)}
          onSaved={(part) => {
            board.put(part);
            setNotice(`Saved ${part.name ?? "the part"}.`);
            setOpen({ kind: "details", id: part.id });
          }}
        />
      ) : null}
      {open?.kind === "action" ? (
        <ActionDialog
          kind={open.action}
          part={open.part}
          onClose={() => setOpen(null)}
          onRefused={board.refresh}
          onDone={(part) => {
            if (part) board.put(part);
            else board.drop(open.part.id);
            setNotice(part ? `${part.name ?? "Part"}: ${part.status}${part.category !== open.part.category ? `, moved to ${TABS.find((t) => t.id === part.category)?.label ?? part.category}` : ""}.` : `Deleted ${open.part.name ?? "the part"}.`);
            setOpen(null);
          }}
        />
      ) : null}
    </>
  );
}

render(<App />, document.getElementById("app")!);
