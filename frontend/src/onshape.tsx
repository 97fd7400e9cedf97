// Onshape in the web app: the connection panel, the return from Onshape's sign-in, the part's
// import and drawing buttons, and every refusal in words.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError,
  explain,
  getPart,
  onshapeAuthorizationUrl,
  onshapeDisconnect,
  onshapeStatus,
  partHistory,
  request,
  type OnshapeStatus,
} from "./api";
import type { Part } from "./types";
import { ErrorText } from "./ui";

// The server's onshape_not_connected message says where to go: "Settings → Connect Onshape".
export const SETTINGS_LABEL = "Settings";
export const CONNECT_LABEL = "Connect Onshape";

/** An Onshape refusal said in words, from the answer's `code` and `error`. */
export function explainOnshape(error: unknown): string {
  if (!(error instanceof ApiError)) return explain(error);
  const server = error.details ? `${error.message.replace(` (${error.details})`, "")}: ${error.details}` : error.message;
  switch (error.code) {
    case "onshape_not_connected": {
      const why = error.details ?? error.message;
      const where = why.includes(SETTINGS_LABEL) ? "" : ` Open ${SETTINGS_LABEL} → ${CONNECT_LABEL}.`;
      return `Onshape is not connected: ${why}.${where}`;
    }
    case "onshape_not_configured":
      return `Onshape is not set up on this server (${server}). An administrator must set ONSHAPE_CLIENT_ID, ONSHAPE_CLIENT_SECRET and ONSHAPE_REDIRECT_URI.`;
    case "onshape_link_invalid":
      return `This part's Onshape link cannot be exported (${server}). Edit the part and paste the address of the Onshape tab.`;
    case "onshape_forbidden":
      return `Onshape refused: the connected Onshape account may not open this document (${server}). Share the document with that account.`;
    case "onshape_not_found":
      return `Onshape has no such document or tab (${server}). Check the part's Onshape link.`;
    case "onshape_refused":
      return `Onshape refused the export (${server}).`;
    case "onshape_export_failed":
      return `Onshape could not export it (${server}).`;
    case "onshape_rate_limited":
    case "onshape_unavailable": {
      const wait = error.retryAfter ? `in ${Math.ceil(error.retryAfter)} s` : "in a moment";
      const why = error.code === "onshape_rate_limited" ? "Onshape asked us to slow down" : "Onshape is not answering";
      return `${why} (${server}). Try again ${wait}.`;
    }
    default:
      return explain(error);
  }
}

// What a failed export recorded in the history (its code) as the server would have said it.
const FAILED_EXPORTS: Record<string, [number, string]> = {
  onshape_not_connected: [409, "Onshape refused the stored credentials; connect again"],
  onshape_forbidden: [424, "Onshape answered 403 Forbidden"],
  onshape_not_found: [424, "Onshape answered 404 Not Found"],
  onshape_refused: [424, "Onshape refused the request"],
  onshape_export_failed: [424, "Onshape's translation failed"],
  onshape_rate_limited: [503, "Onshape answered 429 Too Many Requests"],
  onshape_unavailable: [503, "Onshape did not answer in time"],
};

function exportFailure(code: string): ApiError {
  const [status, message] = FAILED_EXPORTS[code] ?? [424, `Onshape export failed (${code})`];
  return new ApiError(message, status, code, null, code === "onshape_not_connected" ? message : null);
}

const RETURN_ERRORS: Record<string, string> = {
  access_denied: "access was not allowed at Onshape",
  invalid_state: "the sign-in link expired or was already used",
  invalid_request: "Onshape's answer was incomplete",
  not_configured: "Onshape is not set up on this server",
  token_exchange_failed: "Onshape did not accept the sign-in code",
  sessioninfo_failed: "Onshape did not say who signed in",
  onshape_unavailable: "Onshape could not be reached",
};

/** The message for ?onshape_connected / ?onshape_error (the OAuth callback's redirect),
 * removed from the address so a reload or bookmark does not repeat it. */
export function takeOnshapeReturn(): string | null {
  const query = new URLSearchParams(window.location.search);
  const connected = query.get("onshape_connected");
  const reason = query.get("onshape_error");
  if (connected === null && reason === null) return null;
  query.delete("onshape_connected");
  query.delete("onshape_error");
  const rest = query.toString();
  window.history.replaceState(window.history.state, "", window.location.pathname + (rest ? `?${rest}` : "") + window.location.hash);
  if (reason === null) return "Onshape is connected. Parts with an Onshape link can now import their STEP model and drawing.";
  const why = RETURN_ERRORS[reason] ?? `Onshape said "${reason.slice(0, 80)}"`;
  return `Onshape was not connected: ${why}. Open ${SETTINGS_LABEL} and choose ${CONNECT_LABEL} to try again.`;
}

function statusWords(status: OnshapeStatus): string {
  if (status.connected) {
    const who = status.user?.name || status.user?.email || "an Onshape account";
    const since = status.authenticated_at ? ` since ${new Date(status.authenticated_at).toLocaleString()}` : "";
    return `Connected as ${who}${status.user?.name && status.user.email ? ` (${status.user.email})` : ""}${since}.`;
  }
  if (!status.oauth_configured) {
    return status.static_keys
      ? "Not connected with OAuth: this server's Onshape API keys are used for imports and drawings."
      : "Onshape is not set up on this server. An administrator sets ONSHAPE_CLIENT_ID, ONSHAPE_CLIENT_SECRET and ONSHAPE_REDIRECT_URI.";
  }
  return status.static_keys
    ? "Not connected. Until someone connects, this server's Onshape API keys are used."
    : "Not connected. Connect an Onshape account to import STEP models and drawings.";
}

/** Whether Onshape is connected and as whom; connect (Onshape's sign-in) or disconnect. */
export function OnshapePanel() {
  const [status, setStatus] = useState<OnshapeStatus | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  const load = () =>
    onshapeStatus()
      .then((s) => {
        setStatus(s);
        setError(null);
      })
      .catch((err) => setError(explainOnshape(err)));
  useEffect(() => {
    load();
  }, []);

  const connect = async () => {
    setBusy(true);
    setError(null);
    try {
      window.location.assign(await onshapeAuthorizationUrl());
    } catch (err) {
      setError(explainOnshape(err));
      setBusy(false);
    }
  };
  const disconnect = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await onshapeDisconnect();
      setMessage(answer.success ? "Onshape is disconnected." : "No Onshape connection was stored.");
      await load();
    } catch (err) {
      setError(explainOnshape(err));
    }
    setConfirming(false);
    setBusy(false);
  };

  return (
    <section class="settings-section" aria-labelledby="onshape-title">
      <h3 id="onshape-title">Onshape</h3>
      <p role="status">{status ? statusWords(status) : error ? null : "Asking the server…"}</p>
      {message ? <p>{message}</p> : null}
      <ErrorText message={error} />
      {status && confirming ? (
        <div class="confirm-box">
          <p>Disconnect Onshape for everyone on this server? Imports and drawings stop until someone connects again.</p>
          <div class="button-row">
            <button type="button" class="button secondary" onClick={() => setConfirming(false)}>
              Cancel
            </button>
            <button type="button" class="button danger" disabled={busy} onClick={disconnect}>
              Disconnect Onshape
            </button>
          </div>
        </div>
      ) : status ? (
        <div class="button-row start">
          {status.oauth_configured ? (
            <button type="button" class="button primary" disabled={busy} onClick={connect}>
              {status.connected ? "Connect again" : CONNECT_LABEL}
            </button>
          ) : null}
          {status.connected ? (
            <button type="button" class="button danger-outline" disabled={busy} onClick={() => setConfirming(true)}>
              Disconnect
            </button>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

const ONSHAPE_DOCUMENT = /^https?:\/\/([a-z0-9-]+\.)*onshape\.com\/documents\//i;
const POLL_LIMIT_MS = 5 * 60_000;

/** The part's Onshape exports: import the part studio as STEP; a hand part's drawing. */
export function OnshapeActions(props: { part: Part; onSaved: (part: Part) => void; onSettings: () => void }) {
  const { part } = props;
  const [working, setWorking] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [needsConnect, setNeedsConnect] = useState(false);
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  if (!part.onshapeUrl || !ONSHAPE_DOCUMENT.test(part.onshapeUrl)) return null;

  /** Ask until the export is done (a 202 says when to ask again). Between asks, the part's
   * history tells a failed export: asking again after a failure would export again. */
  const untilDone = async (call: () => Promise<Response>, kind: "step" | "drawing", what: string): Promise<Response | null> => {
    const started = Date.now();
    const baseline = (await partHistory(part.id, 1, 0)).events[0]?.id ?? 0;
    let response = await call();
    while (response.status === 202) {
      if (!alive.current) return null;
      if (Date.now() - started > POLL_LIMIT_MS) {
        throw new Error(`Onshape is still exporting the ${what}; the part's history shows when it is done`);
      }
      setWorking(`Onshape is exporting the ${what}…`);
      const wait = Number(response.headers.get("Retry-After")) || 3;
      await new Promise((resolve) => window.setTimeout(resolve, Math.min(Math.max(wait, 1), 10) * 1000));
      if (!alive.current) return null;
      const failed = (await partHistory(part.id, 10, 0)).events.find(
        (e) => e.id > baseline && e.action === "onshape_export" && e.details.kind === kind && e.details.status === "failed",
      );
      if (failed) throw exportFailure(String(failed.details.error ?? "onshape_error"));
      response = await call();
    }
    return response;
  };

  const run = async (kind: "step" | "drawing", what: string, call: () => Promise<Response>, done: (fresh: Part) => string) => {
    setWorking(`Asking Onshape for the ${what}…`);
    setMessage(null);
    setError(null);
    setNeedsConnect(false);
    try {
      const response = await untilDone(call, kind, what);
      if (!response || !alive.current) return;
      const { part: fresh } = await getPart(part.id);
      props.onSaved(fresh);
      setMessage(done(fresh));
    } catch (err) {
      if (!alive.current) return;
      setError(explainOnshape(err));
      setNeedsConnect(err instanceof ApiError && err.code === "onshape_not_connected");
    }
    setWorking(null);
  };

  const importStep = () =>
    run(
      "step",
      "STEP model",
      () => request(`/${part.id}/onshape/import`, { method: "POST" }),
      (fresh) => `Imported ${fresh.file ?? "the STEP file"} from Onshape. The 3D model is converted next.`,
    );
  const refreshDrawing = () =>
    run(
      "drawing",
      "drawing",
      () => request(`/${part.id}/drawing?refresh=true`),
      (fresh) => `The drawing was exported from Onshape again${fresh.file ? ` (${fresh.file})` : ""}.`,
    );

  return (
    <section class="onshape-actions" aria-label="Onshape">
      <div class="button-row start">
        <button type="button" class="button secondary" disabled={working !== null} onClick={importStep}>
          Import STEP from Onshape
        </button>
        {part.type === "hand" ? (
          <button type="button" class="button secondary" disabled={working !== null} onClick={refreshDrawing}>
            Refresh drawing from Onshape
          </button>
        ) : null}
      </div>
      {working ? (
        <p class="model-note" role="status">
          <span class="spinner" aria-hidden="true" /> {working}
        </p>
      ) : null}
      {message ? (
        <p class="model-note" role="status">
          {message}
        </p>
      ) : null}
      <ErrorText message={error} />
      {needsConnect ? (
        <button type="button" class="button secondary" onClick={props.onSettings}>
          Open {SETTINGS_LABEL}
        </button>
      ) : null}
    </section>
  );
}
