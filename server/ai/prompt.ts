import type { CellStore } from '../cluster/cells';
import type { ChatMessage } from '../upstreams/chat-completions';
import { rangeTable } from './sheet-context';

/**
 * The messages sent upstream: the configured system prompt (AI_SYSTEM_PROMPT), the stored cells of
 * the named sheet range when the request gives one (so "analyze this data" is about the sheet's
 * real data), then the user's text.
 */
export async function buildMessages(
  cells: CellStore,
  systemPrompt: string | undefined,
  query: string,
  sheet?: { sheetId: string; range?: string },
): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  if (systemPrompt) messages.push({ role: 'system', content: systemPrompt });
  if (sheet?.range) {
    const { table, cells: count, truncated } = rangeTable(await cells.sheet(sheet.sheetId), sheet.range);
    const what = `Spreadsheet ${sheet.sheetId}, range ${sheet.range}`;
    messages.push({
      role: 'system',
      content: count
        ? `${what} (${count} non-empty cells${truncated ? ', cut to fit' : ''}; tab-separated, first row column letters, first column row numbers):\n${table}`
        : `${what} holds no values.`,
    });
  }
  messages.push({ role: 'user', content: query });
  return messages;
}
