/**
 * Models to offer while a user types one: those the tenant allows that the bot knows (registry and
 * added ones), containing what was typed (any case), in the tenant's order, at most `max`.
 */
export function modelChoices(options: { allowed: string[]; known: string[]; typed: string; max: number }): string[] {
  const known = new Set(options.known);
  const typed = options.typed.toLowerCase();
  return options.allowed.filter((name) => known.has(name) && name.toLowerCase().includes(typed)).slice(0, options.max);
}
