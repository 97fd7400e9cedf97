// The board's data: every part, kept fresh by ETag polling (a 304 when nothing changed).
import { useEffect, useRef, useState } from "preact/hooks";
import { listParts } from "./api";
import type { Part } from "./types";

export const POLL_MS = 2500;

/** Keep the same object for a part whose row did not change, so its card is not re-rendered. */
function merge(previous: Map<number, Part>, incoming: Part[]): Map<number, Part> {
  const next = new Map<number, Part>();
  for (const part of incoming) {
    const old = previous.get(part.id);
    const same =
      old && old.updatedAt === part.updatedAt && old.modelStatus === part.modelStatus && old.file === part.file;
    next.set(part.id, same ? old : part);
  }
  return next;
}

export interface Board {
  parts: Part[];
  loaded: boolean;
  error: string | null;
  refresh: () => Promise<void>;
  put: (part: Part) => void;
  drop: (id: number) => void;
}

export function useBoard(enabled: boolean): Board {
  const [byId, setById] = useState<Map<number, Part>>(new Map());
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const etag = useRef<string | null>(null);
  const current = useRef(byId);
  current.current = byId;

  const refresh = async () => {
    try {
      const list = await listParts(etag.current);
      setError(null);
      if (list) {
        etag.current = list.etag;
        setById(merge(current.current, list.parts));
      }
      setLoaded(true);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  useEffect(() => {
    if (!enabled) return;
    etag.current = null;
    refresh();
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
    const onVisible = () => document.visibilityState === "visible" && refresh();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [enabled]);

  const put = (part: Part) => {
    etag.current = null; // our own write: the next poll fetches the list again
    const next = new Map(current.current);
    next.set(part.id, part);
    setById(next);
  };
  const drop = (id: number) => {
    etag.current = null;
    const next = new Map(current.current);
    next.delete(id);
    setById(next);
  };

  return { parts: [...byId.values()], loaded, error, refresh, put, drop };
}
