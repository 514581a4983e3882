import { describe, expect, it } from 'vitest'
import { parentForReferral, referableState } from '../lib/referral'

describe('referral (as domain/referrals.rs)', () => {
  it('sends a village to its township and a township to its county', () => {
    expect(parentForReferral('620123101201')).toBe('620123101')
    expect(parentForReferral('620123101')).toBe('620123')
    expect(parentForReferral('620123')).toBeNull()
    expect(parentForReferral('62')).toBeNull()
  })
  it('refers announced topics that were not withdrawn', () => {
    expect(referableState('DRAFT')).toBe(false)
    expect(referableState('WITHDRAWN')).toBe(false)
    expect(referableState('OPEN')).toBe(true)
    expect(referableState('DECIDED')).toBe(true)
  })
})
