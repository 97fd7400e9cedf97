import type { Category, Part } from "./types";

export const TABS: { id: Category; label: string }[] = [
  { id: "review", label: "Review" },
  { id: "cnc", label: "CNC" },
  { id: "hand", label: "Hand fab" },
  { id: "misc", label: "Misc" },
  { id: "completed", label: "Completed" },
];

export const TYPE_LABELS: Record<string, string> = { cnc: "CNC", hand: "Hand fab", misc: "Misc / purchased" };

export function partName(part: Part): string {
  return part.name || part.partId || `Part ${part.id}`;
}

export function storageOf(part: Part): string | null {
  const value = part.miscInfo?.storage;
  return typeof value === "string" && value ? value : null;
}

export function hasViews(part: Part): boolean {
  const views = part.miscInfo?.views as { files?: Record<string, unknown> } | undefined;
  return Boolean(views?.files && "0" in views.files);
}

export function statusClass(status: string): string {
  return "status-" + status.toLowerCase().replace(/[^a-z]+/g, "-");
}
