import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Code blocks of a Markdown document, and a runner for the JavaScript ones, so a document's
 * examples are checked by tests instead of trusted.
 *
 * A block is named by an HTML comment on the last non-blank line before its opening fence:
 *
 *     <!-- snippet: seed-002-join -->
 *     ```js
 *     ...
 *     ```
 *
 * The comment is invisible on a rendered page. A test looks snippets up by name, so renaming or
 * removing one fails the test that runs it, and `unnamed` lists the blocks nobody runs.
 */

/** One fenced code block. */
export interface CodeBlock {
  /** The fence's info string up to the first space (`js`, `sh`, `json`, ...); empty when none. */
  readonly lang: string;
  /** The text between the fences. */
  readonly code: string;
  /** The 1-based line of the opening fence (for messages). */
  readonly line: number;
  /** The name of the `<!-- snippet: name -->` comment before the fence, if any. */
  readonly name?: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const MARKER = /^\s*<!--\s*snippet:\s*([\w.-]+)\s*-->\s*$/;

/** Every fenced code block of `markdown`, in order (indented code blocks are not snippets). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  let lastNonBlank = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) {
      if (lines[i].trim() !== '') lastNonBlank = lines[i];
      continue;
    }
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    // The block ends at a fence of the same character, at least as long, with nothing after it.
    for (; j < lines.length; j++) {
      const close = FENCE.exec(lines[j]);
      if (close && close[2][0] === fence[0] && close[2].length >= fence.length && close[3].trim() === '') break;
      body.push(indent && lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    const name = MARKER.exec(lastNonBlank)?.[1];
    blocks.push({ lang: info.trim().split(/\s+/)[0] ?? '', code: `${body.join('\n')}\n`, line: i + 1, ...(name ? { name } : {}) });
    lastNonBlank = '';
    i = j;
  }
  return blocks;
}

/** The named snippets of a Markdown file, by name; a name used twice is an error. */
export class SnippetFile {
  readonly blocks: readonly CodeBlock[];
  private readonly byName = new Map<string, CodeBlock>();
  private readonly used = new Set<string>();

  constructor(readonly path: string) {
    this.blocks = codeBlocks(readFileSync(path, 'utf8'));
    for (const block of this.blocks) {
      if (!block.name) continue;
      if (this.byName.has(block.name)) throw new Error(`${path}:${block.line}: snippet name "${block.name}" is used twice`);
      this.byName.set(block.name, block);
    }
  }

  /** The snippet called `name`; throws when the document has none (renamed or removed). */
  get(name: string): CodeBlock {
    const block = this.byName.get(name);
    if (!block) throw new Error(`${this.path} has no snippet named "${name}" (the comment <!-- snippet: ${name} --> before its fence)`);
    this.used.add(name);
    return block;
  }

  /** Blocks of the given languages that have no name: code the tests cannot run. */
  unnamed(langs: readonly string[]): CodeBlock[] {
    return this.blocks.filter((b) => langs.includes(b.lang) && !b.name);
  }

  /** Named snippets no test asked for so far. */
  unused(): string[] {
    return [...this.byName.keys()].filter((name) => !this.used.has(name));
  }
}

/** How a snippet is turned into a program and run. */
export interface RunOptions {
  /** Working directory: the repository, so `ws`, `socket.io-client`, ... resolve from its node_modules. */
  readonly cwd: string;
  /** Extra environment (TOKEN, ADMIN_API_KEY, ...), on top of PATH and HOME. */
  readonly env?: Readonly<Record<string, string>>;
  /** Literal replacements made in the code before it runs (the documented address by the test's). */
  readonly replace?: ReadonlyArray<readonly [string, string]>;
  /** Kill the process after this long (the test then fails with its output). */
  readonly timeoutMs?: number;
}

/** One line a snippet printed: its text and, when the text is JSON, the value. */
export interface PrintedLine {
  readonly text: string;
  readonly json?: unknown;
}

/** A snippet running in its own `node` process. */
export interface RunningSnippet {
  readonly name: string;
  /** Every stdout line so far. */
  readonly lines: readonly PrintedLine[];
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** The first line (printed already or to come) that passes `match`; rejects if the process exits or times out first. */
  line(match: (line: PrintedLine) => boolean, what?: string, timeoutMs?: number): Promise<PrintedLine>;
  /** The exit code (null when killed). */
  readonly exit: Promise<number | null>;
  /** Resolves with the whole stdout once the process exited with 0; rejects with its output otherwise. */
  succeeded(): Promise<readonly PrintedLine[]>;
  kill(): void;
}

const running = new Set<ChildProcess>();

/** Kills every snippet process still running (afterEach). */
export function killSnippets(): void {
  for (const proc of running) proc.kill('SIGKILL');
  running.clear();
}

/**
 * Whether a snippet is an ES module, else CommonJS: an `import ... from` statement, or `await` on an
 * unindented line (top-level code in a snippet is not indented; code inside functions is).
 */
export function isModule(code: string): boolean {
  return /^import\s/m.test(code) || /^(?!\/\/)\S.*\bawait\b/m.test(code);
}

/** Runs a snippet with `node`, its code on stdin, as an ES module or as CommonJS (see isModule). */
export function runSnippet(block: CodeBlock, options: RunOptions): RunningSnippet {
  let code = block.code;
  for (const [from, to] of options.replace ?? []) code = code.split(from).join(to);
  const name = block.name ?? `line ${block.line}`;
  const proc = spawn(process.execPath, [`--input-type=${isModule(code) ? 'module' : 'commonjs'}`, '-'], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.stdin!.end(code);

  const lines: PrintedLine[] = [];
  let all = '';
  let partial = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  proc.stdout!.on('data', (chunk: Buffer) => {
    all += chunk.toString();
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const text of complete) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      lines.push(json === undefined ? { text } : { text, json });
    }
    notify();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    all += chunk.toString();
  });
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    proc.once('close', (status) => {
      exited = true;
      running.delete(proc);
      clearTimeout(killer);
      if (partial) lines.push({ text: partial });
      notify();
      resolve(status);
    }),
  );
  const timeoutMs = options.timeoutMs ?? 15_000;
  const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const output = () => `--- snippet "${name}" (line ${block.line}) printed:\n${all}---`;

  const line = (match: (line: PrintedLine) => boolean, what = 'the expected line', waitMs = timeoutMs) =>
    new Promise<PrintedLine>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (found) {
          finish();
          resolve(found);
        } else if (exited) {
          finish();
          reject(new Error(`snippet "${name}" exited without printing ${what}\n${output()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`snippet "${name}" did not print ${what} within ${waitMs} ms\n${output()}`));
      }, waitMs);
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const succeeded = async () => {
    const status = await exit;
    if (status !== 0) throw new Error(`snippet "${name}" exited with ${status}\n${output()}`);
    return lines;
  };

  return { name, lines, output, line, exit, succeeded, kill: () => proc.kill('SIGKILL') };
}
