import { describe, expect, it, vi } from 'vitest'
import { DivisionTree, attachChildren, findNode, isComplete, type DivisionRow, type FetchPage } from '@/pages/residency/cascade'

const rows: Record<string, DivisionRow[]> = {
  '': [{ code: '62', name: '甘肃省', level: 'PROVINCE' }],
  '62': [{ code: '6201', name: '兰州市', level: 'CITY' }],
  '620123101': [
    { code: '620123101201', name: '过店子村', level: 'VILLAGE' },
    { code: '620123101202', name: '太平堡村', level: 'VILLAGE' },
    { code: '620123101203', name: '第三村', level: 'VILLAGE' },
  ],
}

function pagedFetch(pageSize: number): FetchPage & { calls: Array<[string | null, string | null]> } {
  const calls: Array<[string | null, string | null]> = []
  const fn = (async (parent, after) => {
    calls.push([parent, after])
    const all = rows[parent ?? ''] ?? []
    const start = after ? Number(after) : 0
    const nodes = all.slice(start, start + pageSize)
    const end = start + nodes.length
    return { nodes, hasNextPage: end < all.length, endCursor: String(end) }
  }) as FetchPage & { calls: typeof calls }
  fn.calls = calls
  return fn
}

describe('DivisionTree', () => {
  it('follows pages until the last one', async () => {
    const fetch = pagedFetch(2)
    const tree = new DivisionTree(fetch)
    const villages = await tree.children('620123101')
    expect(villages.map((v) => v.text)).toEqual(['过店子村', '太平堡村', '第三村'])
    expect(fetch.calls).toEqual([
      ['620123101', null],
      ['620123101', '2'],
    ])
  })

  it('loads a level once even when asked twice at the same time', async () => {
    const fetch = pagedFetch(50)
    const tree = new DivisionTree(fetch)
    const [a, b] = await Promise.all([tree.children('62'), tree.children('62')])
    expect(a).toBe(b)
    expect(fetch.calls.length).toBe(1)
  })

  it('retries a level whose loading failed', async () => {
    let fail = true
    const fetch = vi.fn<FetchPage>(async () => {
      if (fail) throw new Error('offline')
      return { nodes: rows['62'], hasNextPage: false, endCursor: null }
    })
    const tree = new DivisionTree(fetch)
    await expect(tree.children('62')).rejects.toThrow('offline')
    fail = false
    expect((await tree.children('62')).map((n) => n.value)).toEqual(['6201'])
  })

  it('makes villages leaves and other levels expandable', async () => {
    const tree = new DivisionTree(pagedFetch(50))
    const [province] = await tree.children(null)
    expect(province.children).toEqual([])
    const [village] = await tree.children('620123101')
    expect('children' in village).toBe(false)
  })
})

describe('attachChildren', () => {
  it('puts children under the picked node, and makes a childless node a leaf', () => {
    const tree = [{ text: '甘肃省', value: '62', level: 'PROVINCE' as const, children: [] }]
    expect(attachChildren(tree, '62', [{ text: '兰州市', value: '6201', level: 'CITY', children: [] }])).toBe(true)
    expect(findNode(tree, '6201')?.text).toBe('兰州市')
    expect(attachChildren(tree, '6201', [])).toBe(true)
    expect('children' in findNode(tree, '6201')!).toBe(false)
    expect(attachChildren(tree, '99', [])).toBe(false)
  })

  it('is complete only at a village', () => {
    expect(isComplete([{ level: 'PROVINCE' }, { level: 'CITY' }])).toBe(false)
    expect(isComplete([{ level: 'TOWNSHIP' }, { level: 'VILLAGE' }])).toBe(true)
    expect(isComplete([])).toBe(false)
  })
})
