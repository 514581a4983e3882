import { beforeEach, describe, expect, it } from 'vitest'
import { forgetAll, recall, remember } from '@/utils/lastSeen'

describe('lastSeen', () => {
  beforeEach(() => localStorage.clear())

  it('gives back what was remembered, with what it was for', () => {
    remember('home', { forDivision: '620123101201' }, { topics: [1, 2] })
    const seen = recall<{ topics: number[] }>('home')
    expect(seen?.for).toEqual({ forDivision: '620123101201' })
    expect(seen?.value.topics).toEqual([1, 2])
    expect(seen?.savedAt).toBeGreaterThan(0)
  })

  it('has nothing for a key never remembered, or stored badly', () => {
    expect(recall('home')).toBeNull()
    localStorage.setItem('yishi.seen.home', '{not json')
    expect(recall('home')).toBeNull()
  })

  it('forgets every entry on sign-out and nothing else', () => {
    remember('home', {}, 1)
    remember('other', {}, 2)
    localStorage.setItem('yishi.refreshToken', 'kept-elsewhere')
    localStorage.setItem('yishi.elder', '1')
    forgetAll()
    expect(recall('home')).toBeNull()
    expect(recall('other')).toBeNull()
    expect(localStorage.getItem('yishi.elder')).toBe('1')
  })
})
