// The one place that talks to the server: the key and X-Actor headers, error bodies, ETags.
import type { Part } from "./types";

const KEY_STORAGE = "aerie.apiKey";
const ACTOR_STORAGE = "aerie.actor";
export const ACTOR_MAX_LENGTH = 100;

/** The folder index.html was served from: "/" or "/<BASE_PATH>/". */
export function basePath(): string {
  const path = window.location.pathname;
  return path.slice(0, path.lastIndexOf("/") + 1);
}

export const API = `${basePath()}api/parts`;

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
    readonly retryAfter: number | null = null,
    readonly details: string | null = null,
  ) {
    super(message);
  }
}

let apiKey: string | null = localStorage.getItem(KEY_STORAGE);
let actor: string | null = localStorage.getItem(ACTOR_STORAGE);
let onUnauthorised: () => void = () => {};

export function getKey(): string | null {
  return apiKey;
}

export function setKey(key: string | null): void {
  apiKey = key;
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** Who is using this browser: sent as X-Actor with every change, so the history names them. */
export function getActor(): string {
  return actor ?? "";
}

export function setActor(name: string): void {
  actor = name.trim() || null;
  if (actor) localStorage.setItem(ACTOR_STORAGE, actor);
  else localStorage.removeItem(ACTOR_STORAGE);
}

// What the server refuses in X-Actor (utils/actor.py): control characters, invisible
// direction marks and overrides, and commas (a repeated header arrives comma-joined).
const ACTOR_REFUSED =
  /[\u0000-\u001f\u007f-\u009f\u034f\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2800\u3164\ufeff\uffa0]/;

/** Why a name cannot be sent as X-Actor, or null when it can (empty: "api" is recorded). */
export function actorProblem(name: string): string | null {
  const trimmed = name.trim();
  if ([...trimmed].length > ACTOR_MAX_LENGTH) return `Your name can be at most ${ACTOR_MAX_LENGTH} characters.`;
  if (trimmed.includes(",")) return "Your name cannot contain a comma.";
  if (ACTOR_REFUSED.test(trimmed)) return "Your name cannot contain control characters or invisible marks.";
  return null;
}

/** A header value is a byte string: send the name's UTF-8 bytes, one character per byte
 * (the server reads the bytes back as UTF-8, so "Zoë" arrives as "Zoë"). */
export function actorHeader(name: string): string {
  let bytes = "";
  for (const byte of new TextEncoder().encode(name)) bytes += String.fromCharCode(byte);
  return bytes;
}

function withActor(headers: Headers, method: string): void {
  if (actor && method !== "GET" && method !== "HEAD") headers.set("X-Actor", actorHeader(actor));
}

export function whenUnauthorised(callback: () => void): void {
  onUnauthorised = callback;
}

/** Words for a refusal: what happened and what to do next. */
export function explain(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return error instanceof Error
      ? `Could not reach the server (${error.message}). Check the connection and try again.`
      : "Something went wrong.";
  }
  switch (error.status) {
    case 409:
      return `Not done: ${error.message}. The board now shows the part as it is.`;
    case 412:
      return "Someone else changed this part while you were editing it. Reopen it to see their changes, then try again.";
    case 413:
      return `The file is too large: ${error.message}.`;
    case 415:
      return `${error.message}. Upload a STEP, STP or PDF file.`;
    case 429: {
      const wait = error.retryAfter ? ` Wait ${Math.ceil(error.retryAfter)} s and try again.` : " Wait a moment and try again.";
      return `Too many requests.${wait}`;
    }
    default:
      return error.message;
  }
}

async function failure(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let code: string | null = null;
  let details: string | null = null;
  let retry: number | null = Number(response.headers.get("Retry-After")) || null;
  if ((response.headers.get("Content-Type") || "").includes("application/json")) {
    const body = await response.json().catch(() => null);
    if (body && typeof body.error === "string") message = body.error;
    if (body && typeof body.details === "string") {
      details = body.details;
      message += ` (${body.details})`;
    }
    if (body && typeof body.code === "string") code = body.code;
    if (body && typeof body.retry_after === "number") retry = body.retry_after;
  }
  return new ApiError(message, response.status, code, retry, details);
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (apiKey) headers.set("X-API-Key", apiKey);
  withActor(headers, (init.method ?? "GET").toUpperCase());
  if (init.body && typeof init.body === "string") headers.set("Content-Type", "application/json");
  const response = await fetch(API + path, { ...init, headers, cache: "no-cache" });
  if (response.status === 401) {
    onUnauthorised();
  }
  if (!response.ok && response.status !== 304 && response.status !== 202) {
    throw await failure(response);
  }
  return response;
}

export async function json<T>(path: string, method = "GET", body?: unknown, headers?: HeadersInit): Promise<T> {
  const response = await request(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await response.json()) as T;
}

// A sign-in asked too soon after another from this address (AUTH_CHECK_INTERVAL_SECONDS, per
// address: two phones behind one Wi-Fi router, or a corrected typo) waits and asks again.
const CHECK_ATTEMPTS = 3;
const CHECK_WAIT_MAX_MS = 5000;

/** Is this key the server's? A 429 is waited out (briefly) and asked again. */
export async function checkKey(key: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${API}/auth/check`, { headers: { "X-API-Key": key }, cache: "no-store" });
    if (response.ok) return;
    const seconds = Number(response.headers.get("Retry-After"));
    if (response.status !== 429 || attempt >= CHECK_ATTEMPTS || !(seconds * 1000 <= CHECK_WAIT_MAX_MS)) {
      throw await failure(response);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(seconds, 0.2) * 1000));
  }
}

export interface PartList {
  parts: Part[];
  etag: string | null;
}

/** Every part, or null when nothing changed since `etag` (a 304 costs a few bytes). */
export async function listParts(etag: string | null): Promise<PartList | null> {
  const response = await request("/", { headers: etag ? { "If-None-Match": etag } : {} });
  if (response.status === 304) return null;
  const body = (await response.json()) as { parts: Part[] };
  return { parts: body.parts, etag: response.headers.get("ETag") };
}

/** A part with the ETag a later write sends as If-Match (412 if someone changed it since). */
export async function getPart(id: number): Promise<{ part: Part; etag: string | null }> {
  const response = await request(`/${id}`);
  return { part: (await response.json()) as Part, etag: response.headers.get("ETag") };
}

export function action(id: number, name: string, body?: unknown): Promise<Part> {
  return json<Part>(`/${id}/${name}`, "POST", body ?? {});
}

export function updatePart(id: number, changes: Record<string, unknown>, etag: string | null): Promise<Part> {
  return json<Part>(`/${id}`, "PUT", changes, etag ? { "If-Match": etag } : undefined);
}

/** Upload with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function upload(id: number, file: File, progress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/${id}/upload`);
    if (apiKey) xhr.setRequestHeader("X-API-Key", apiKey);
    if (actor) xhr.setRequestHeader("X-Actor", actorHeader(actor));
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) progress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new Error("network error"));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        progress(1);
        resolve();
        return;
      }
      const headers = new Headers({ "Content-Type": xhr.getResponseHeader("Content-Type") || "" });
      failure(new Response(xhr.responseText, { status: xhr.status, headers })).then(reject);
    };
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

/** A file the API serves, as a blob: URL (the key travels in a header, never in the URL). */
export async function blobUrl(path: string): Promise<string> {
  const response = await request(path);
  return URL.createObjectURL(await response.blob());
}

export interface PartEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  part: { id: number; uuid: string };
  details: Record<string, unknown>;
}

export interface HistoryPage {
  events: PartEvent[];
  total: number;
  limit: number;
  offset: number;
}

/** One page of a part's history, newest first. */
export function partHistory(id: number, limit: number, offset: number): Promise<HistoryPage> {
  return json<HistoryPage>(`/${id}/history?limit=${limit}&offset=${offset}`);
}

export interface OnshapeStatus {
  connected: boolean;
  oauth_configured: boolean;
  static_keys: boolean;
  user?: { id: string | null; name: string | null; email: string | null };
  authenticated_at?: string;
  expires_at?: string;
}

export function onshapeStatus(): Promise<OnshapeStatus> {
  return json<OnshapeStatus>("/auth/onshape/status");
}

/** Onshape's sign-in address (single-use, expires after 10 minutes). */
export async function onshapeAuthorizationUrl(): Promise<string> {
  return (await json<{ authorization_url: string }>("/auth/onshape/connect")).authorization_url;
}

export function onshapeDisconnect(): Promise<{ success: boolean; message: string }> {
  return json("/auth/onshape/disconnect", "POST", {});
}
