/**
 * ledger — the independent record of what really ran, kept outside Cairn's tables. Each worker
 * process appends to two files of its own, one synchronous `write(2)` per line on a descriptor
 * opened with O_APPEND, so a SIGKILL loses nothing already written and a SIGSTOP cannot tear a line:
 *
 *   ledger-<tag>.log   written by the step bodies themselves
 *     S <token> <runId> <step> <attempt> <epoch|?> <ms>   the body began (epoch: the lease this process held)
 *     E <token> <ms>                                      the body returned its value
 *     X <token> <ms>                                      the body threw its designed (flaky) failure
 *   storage-<tag>.log  written by the process's storage wrapper (what Cairn's storage answered)
 *     K <runId> <epoch> <ms>                              this process took a lease (start or claim)
 *     C <runId> <epoch> ok|lost|error <sent> <answered>   a fenced commit, its outcome, when it was sent and answered
 *     H <runId> <epoch> lost|error <sent> <answered>      a heartbeat that did not renew the lease
 *
 * A token is `<tag>.<sequence>`; every step output carries the token of the execution that produced
 * it, so the value stored in `cairn_steps` names the one execution it came from.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Appends whole lines to one file, synchronously, through an O_APPEND descriptor. */
export class LineWriter {
  private readonly fd: number;

  constructor(file: string) {
    this.fd = openSync(file, 'a');
  }

  line(text: string): void {
    writeSync(this.fd, `${text}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export const ledgerFile = (dir: string, tag: string): string => join(dir, `ledger-${tag}.log`);
export const storageLogFile = (dir: string, tag: string): string => join(dir, `storage-${tag}.log`);

/** One execution of one step body by one process, as its ledger lines tell it. */
export interface Execution {
  token: string;
  /** The worker process (its tag, which is also its Cairn workerId). */
  worker: string;
  runId: string;
  step: string;
  attempt: number;
  /** The lease epoch this process held on the run when the body began; undefined if it did not know. */
  epoch: number | undefined;
  start: number;
  /** When the body returned (E) or threw (X); undefined if the process died first. */
  end: number | undefined;
  outcome: 'returned' | 'threw' | 'unfinished';
}

export interface StorageLine {
  kind: 'K' | 'C' | 'H';
  worker: string;
  runId: string;
  epoch: number;
  result: 'ok' | 'lost' | 'error';
  /** When the request was sent (for K: when the lease was taken). */
  sent: number;
  answered: number;
}

function tagsIn(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.log'))
    .map((f) => f.slice(prefix.length, -'.log'.length));
}

/** Every execution recorded by every worker in `dir`. */
export function readExecutions(dir: string): Execution[] {
  const all: Execution[] = [];
  for (const worker of tagsIn(dir, 'ledger-')) {
    const byToken = new Map<string, Execution>();
    for (const line of readFileSync(ledgerFile(dir, worker), 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields[0] === 'S' && fields.length === 7) {
        const [, token, runId, step, attempt, epoch, at] = fields as [string, string, string, string, string, string, string];
        const execution: Execution = { token, worker, runId, step, attempt: Number(attempt), epoch: epoch === '?' ? undefined : Number(epoch), start: Number(at), end: undefined, outcome: 'unfinished' };
        byToken.set(token, execution);
        all.push(execution);
      } else if ((fields[0] === 'E' || fields[0] === 'X') && fields.length === 3) {
        const execution = byToken.get(fields[1]!);
        if (!execution) throw new Error(`ledger of ${worker}: ${fields[0]} line for unknown token ${fields[1]}`);
        execution.end = Number(fields[2]);
        execution.outcome = fields[0] === 'E' ? 'returned' : 'threw';
      } else if (line !== '') {
        throw new Error(`ledger of ${worker}: malformed line '${line}'`);
      }
    }
  }
  return all;
}

/** Every storage outcome recorded by every worker in `dir`. */
export function readStorageLines(dir: string): StorageLine[] {
  const all: StorageLine[] = [];
  for (const worker of tagsIn(dir, 'storage-')) {
    for (const line of readFileSync(storageLogFile(dir, worker), 'utf8').split('\n')) {
      if (line === '') continue;
      const fields = line.split(' ');
      const kind = fields[0];
      if (kind === 'K' && fields.length === 4) {
        all.push({ kind, worker, runId: fields[1]!, epoch: Number(fields[2]), result: 'ok', sent: Number(fields[3]), answered: Number(fields[3]) });
      } else if ((kind === 'C' || kind === 'H') && fields.length === 6 && (fields[3] === 'ok' || fields[3] === 'lost' || fields[3] === 'error')) {
        all.push({ kind, worker, runId: fields[1]!, epoch: Number(fields[2]), result: fields[3], sent: Number(fields[4]), answered: Number(fields[5]) });
      } else {
        throw new Error(`storage log of ${worker}: malformed line '${line}'`);
      }
    }
  }
  return all;
}
