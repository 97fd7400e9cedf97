export type Category = "review" | "cnc" | "hand" | "misc" | "completed";
export type ModelStatus = "none" | "pending" | "ready" | "failed";

export interface Part {
  id: number;
  uuid: string;
  partId: string;
  type: string | null;
  name: string | null;
  material: string | null;
  materialThickness: string | null;
  subsystem: string | null;
  assigned: string | null;
  status: string;
  category: string;
  miscInfo: Record<string, unknown> | null;
  notes: string | null;
  file: string | null;
  onshapeUrl: string | null;
  claimedDate: string | null;
  createdAt: string;
  updatedAt: string;
  amount: number;
  modelStatus: ModelStatus;
  modelError: string | null;
}

export interface Counts {
  [key: string]: number;
}

export interface DetailedStats {
  total_parts: number;
  part_count: number;
  completed_parts: number;
  in_progress_parts: number;
  average_completion_time_hours: number | null;
  completion_time_distribution: Counts;
  by_category: Counts;
  by_status: Counts;
  by_type: Counts;
  top_contributors: { name: string; count: number }[];
}

export interface LeaderboardEntry {
  name: string;
  score: number;
}
