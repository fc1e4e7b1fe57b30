/**
 * Browser mode's file picker: a CSV file chosen in the page is handed to the local app process
 * (POST /upload on 127.0.0.1, admitted by the page's session cookie), which stores it in its state
 * folder and answers with the path to load. Nothing leaves this machine.
 */
import type { Result } from '../../../app/contract.js';

export async function uploadCsv(file: File): Promise<Result<string>> {
  let res: Response;
  try {
    res = await fetch(`/upload?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file, credentials: 'same-origin' });
  } catch {
    return { ok: false, error: { code: 'unreachable', message: 'Could not hand the file to the Covey app process: is `covey app --browser` still running?' } };
  }
  const text = await res.text();
  if (!res.ok) return { ok: false, error: { code: 'data-unreadable', message: text.trim() } };
  return { ok: true, value: (JSON.parse(text) as { path: string }).path };
}
