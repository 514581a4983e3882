/** Referral to the level above (乡镇与村协商联动): where a matter of a division goes. */

/** The division a matter of `code` is referred to: a village's township, a township's county; null otherwise (the API's rule). */
export function parentForReferral(code: string): string | null {
  if (code.length === 12) return code.slice(0, 9)
  if (code.length === 9) return code.slice(0, 6)
  return null
}

/** Whether a topic in `state` may be referred: announced and not withdrawn. */
export function referableState(state: string): boolean {
  return state !== 'DRAFT' && state !== 'WITHDRAWN'
}
