// Add or edit a part, with an optional STEP/PDF upload and its progress.
import { useEffect, useRef, useState } from "preact/hooks";
import { explain, getPart, json, updatePart, upload } from "./api";
import { partName } from "./labels";
import type { Part } from "./types";
import { Dialog, ErrorText, SelectField, TextField, uid } from "./ui";

interface Values {
  name: string;
  type: string;
  material: string;
  materialThickness: string;
  subsystem: string;
  amount: string;
  onshapeUrl: string;
  notes: string;
  serviceMethod: string;
}

function valuesOf(part: Part | null): Values {
  const service = part?.miscInfo?.serviceMethod;
  return {
    name: part?.name ?? "",
    type: part?.type ?? "cnc",
    material: part?.material ?? "",
    materialThickness: part?.materialThickness ?? "",
    subsystem: part?.subsystem ?? "",
    amount: String(part?.amount ?? 1),
    onshapeUrl: part?.onshapeUrl ?? "",
    notes: part?.notes ?? "",
    serviceMethod: typeof service === "string" ? service : "",
  };
}

function body(values: Values, existing: Part | null): Record<string, unknown> {
  const info: Record<string, unknown> = { ...(existing?.miscInfo ?? {}) };
  if (values.type === "misc" && values.serviceMethod.trim()) info.serviceMethod = values.serviceMethod.trim();
  else delete info.serviceMethod;
  return {
    name: values.name.trim(),
    type: values.type,
    material: values.material.trim(),
    materialThickness: values.materialThickness.trim() || null,
    subsystem: values.subsystem.trim(),
    amount: Number.parseInt(values.amount, 10) || 1,
    onshapeUrl: values.onshapeUrl.trim() || null,
    notes: values.notes.trim() || null,
    miscInfo: Object.keys(info).length ? info : null,
  };
}

// What the server accepts (utils/files_io, utils/step_converter): a STEP opens with its
// ISO-10303-21 header, a PDF has %PDF- in its first KB. Checked before a part is added, so a
// file the server would refuse never leaves a new part behind without it.
const STEP_HEADER = /^(?:\uFEFF)?[ \t\r\n]*ISO-10303-21[ \t\r\n]*;/;

export async function fileProblem(file: File): Promise<string | null> {
  const extension = file.name.toLowerCase().split(".").pop() ?? "";
  if (!["step", "stp", "pdf"].includes(extension) || !file.name.includes(".")) {
    return `${file.name} is not a STEP or PDF file: choose a .step, .stp or .pdf file.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  const head = await file.slice(0, 1024).text();
  if (extension === "pdf" ? !head.includes("%PDF-") : !STEP_HEADER.test(head)) {
    const kind = extension === "pdf" ? "PDF" : "STEP (ISO-10303-21)";
    return `${file.name} is not a valid ${kind} file: export it again from the CAD program.`;
  }
  return null;
}

export function PartForm(props: {
  part: Part | null;
  suggestions: { subsystems: string[]; materials: string[] };
  onClose: () => void;
  onSaved: (part: Part) => void;
}) {
  // After an add whose upload failed, the part exists: a retry edits it instead of adding twice.
  const [created, setCreated] = useState<Part | null>(null);
  const editing = props.part ?? created;
  const [values, setValues] = useState<Values>(valuesOf(editing));
  const [etag, setEtag] = useState<string | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fileId = useRef(uid("file")).current;
  const lists = useRef({ subsystems: uid("subsystems"), materials: uid("materials") }).current;

  useEffect(() => {
    if (!editing) return;
    // The version being edited: saving sends it as If-Match, so a concurrent change is a 412.
    getPart(editing.id)
      .then(({ part, etag }) => {
        setValues(valuesOf(part));
        setEtag(etag);
      })
      .catch((err) => setError(explain(err)));
  }, []);

  const set = (key: keyof Values) => (value: string) => setValues({ ...values, [key]: value });

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const problem = file ? await fileProblem(file) : null;
    if (problem) {
      setError(problem);
      setBusy(false);
      return;
    }
    let added: Part | null = null;
    try {
      let saved = editing
        ? await updatePart(editing.id, body(values, editing), etag)
        : await json<Part>("/", "POST", { ...body(values, null), category: "review" });
      if (!editing) {
        added = saved;
        setCreated(saved);
        setEtag(null);
      }
      if (file) {
        setProgress(0);
        await upload(saved.id, file, setProgress);
        saved = (await getPart(saved.id)).part;
      }
      props.onSaved(saved);
    } catch (err) {
      // The part was added but its file was refused: say so, or it looks like nothing happened.
      const saved = added ?? created;
      setError(
        saved && file
          ? `${partName(saved)} was added without its file. ${explain(err)} Choose another file and press Retry upload, or Cancel to keep the part without a file.`
          : explain(err),
      );
      setBusy(false);
    }
  };

  return (
    <Dialog title={props.part ? "Edit part" : "Add part"} onClose={props.onClose} wide>
      <form onSubmit={submit} class="form-grid">
        <TextField label="Name" value={values.name} onInput={set("name")} required autoFocus />
        <SelectField
          label="Type"
          value={values.type}
          onChange={set("type")}
          options={[
            ["cnc", "CNC / laser"],
            ["hand", "Hand fabrication"],
            ["misc", "Misc / purchased"],
          ]}
        />
        <TextField label="Material" value={values.material} onInput={set("material")} required list={lists.materials} />
        <TextField label="Material thickness" value={values.materialThickness} onInput={set("materialThickness")} hint='e.g. 1/4"' />
        <TextField label="Subsystem" value={values.subsystem} onInput={set("subsystem")} required list={lists.subsystems} />
        <TextField label="Amount" type="number" value={values.amount} onInput={set("amount")} required />
        {values.type === "misc" ? (
          <TextField label="Vendor or service" value={values.serviceMethod} onInput={set("serviceMethod")} />
        ) : null}
        <TextField label="Onshape URL" type="url" value={values.onshapeUrl} onInput={set("onshapeUrl")} />
        <div class="field span">
          <label for={`${fileId}-notes`}>Notes</label>
          <textarea id={`${fileId}-notes`} rows={3} value={values.notes} onInput={(e) => set("notes")((e.target as HTMLTextAreaElement).value)} />
        </div>
        <div class="field span">
          <label for={fileId}>{editing?.file ? `Replace file (now: ${editing.file})` : "STEP or PDF file"}</label>
          <input
            id={fileId}
            type="file"
            accept=".step,.stp,.pdf"
            onChange={(event) => setFile((event.target as HTMLInputElement).files?.[0] ?? null)}
          />
          {progress !== null ? (
            <div class="progress-line">
              <progress max={1} value={progress} aria-label="Upload progress" />
              <span>{Math.round(progress * 100)} %</span>
            </div>
          ) : null}
        </div>
        <datalist id={lists.subsystems}>
          {props.suggestions.subsystems.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <datalist id={lists.materials}>
          {props.suggestions.materials.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <div class="span">
          <ErrorText message={error} />
        </div>
        <div class="button-row span">
          <button type="button" class="button secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy}>
            {props.part ? "Save changes" : created ? "Retry upload" : "Add part"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
