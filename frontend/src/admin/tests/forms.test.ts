import { describe, expect, it } from 'vitest'
import { audienceInput, validateExplanation } from '../lib/explanation'
import { correctionFormFrom, emptyOutcomeForm, outcomeFormFrom, outcomeInput, validateOutcome } from '../lib/outcome'

describe('explanation composer', () => {
  it('builds the audience input only when complete', () => {
    expect(audienceInput({ kind: 'ALL_DISSENTERS', divisionCode: 'x', opinionIds: ['1'] })).toEqual({ kind: 'ALL_DISSENTERS' })
    expect(audienceInput({ kind: 'DIVISION', divisionCode: '', opinionIds: [] })).toBeNull()
    expect(audienceInput({ kind: 'DIVISION', divisionCode: '620123101202', opinionIds: [] })).toEqual({ kind: 'DIVISION', divisionCode: '620123101202' })
    expect(audienceInput({ kind: 'OPINIONS', divisionCode: '', opinionIds: [] })).toBeNull()
    expect(audienceInput({ kind: 'OPINIONS', divisionCode: '', opinionIds: ['4', '5'] })).toEqual({ kind: 'OPINIONS', opinionIds: ['4', '5'] })
    expect(audienceInput({ kind: 'UNSATISFIED', divisionCode: '', opinionIds: [] })).toEqual({ kind: 'UNSATISFIED' })
  })

  it('refuses an empty text, an incomplete or empty audience', () => {
    const all = { kind: 'ALL_DISSENTERS' as const, divisionCode: '', opinionIds: [] }
    expect(validateExplanation(all, '  ', 2)).toEqual({ body: 'admin.validation.required' })
    expect(validateExplanation(all, '说明', 0)).toEqual({ audience: 'admin.validation.noRecipients' })
    expect(validateExplanation({ ...all, kind: 'DIVISION' }, '说明', null)).toEqual({ audience: 'admin.validation.chooseDivision' })
    expect(validateExplanation({ ...all, kind: 'OPINIONS' }, '说明', null)).toEqual({ audience: 'admin.validation.chooseOpinions' })
    expect(validateExplanation(all, '说明', 2)).toEqual({})
    // Unknown size (still loading): the server decides.
    expect(validateExplanation(all, '说明', null)).toEqual({})
  })
})

describe('outcome form', () => {
  const NOW = new Date('2026-05-01T00:00:00Z')
  const filled = () => ({
    ...emptyOutcomeForm(),
    decision: '修',
    responsibleBody: '村委会',
    deadline: new Date('2026-08-01T00:00:00Z'),
    adoptedStance: 'SUPPORT' as const,
  })

  it('requires what the API requires, by kind', () => {
    expect(validateOutcome(emptyOutcomeForm(), 'DECISION', false, NOW)).toEqual({
      decision: 'admin.validation.required',
      responsibleBody: 'admin.validation.required',
      deadline: 'admin.validation.required',
      adoptedStance: 'admin.validation.required',
    })
    expect(validateOutcome({ ...filled(), adoptedStance: '' }, 'CHOICE', false, NOW)).toEqual({ adoptedOptionId: 'admin.validation.required' })
    expect(validateOutcome({ ...filled(), adoptedStance: '' }, 'OPEN', false, NOW)).toEqual({})
    expect(validateOutcome({ ...filled(), deadline: new Date('2026-04-01T00:00:00Z') }, 'DECISION', false, NOW)).toEqual({ deadline: 'admin.validation.inFuture' })
    expect(validateOutcome(filled(), 'DECISION', true, NOW)).toEqual({ changeReason: 'admin.validation.required' })
  })

  it('sends only the field of the kind', () => {
    const input = outcomeInput({ ...filled(), adoptedOptionId: '3', entrustedBy: ' ' }, 'DECISION')
    expect(input).toEqual({
      decision: '修',
      adoptedStance: 'SUPPORT',
      adoptedOptionId: null,
      responsibleBody: '村委会',
      deadline: '2026-08-01T00:00:00.000Z',
      entrustedBy: null,
      quorumJustification: null,
    })
    expect(outcomeInput({ ...filled(), quorumJustification: ' 全村大会已表决 ' }, 'DECISION').quorumJustification).toBe('全村大会已表决')
    expect(outcomeInput({ ...filled(), adoptedOptionId: '3' }, 'CHOICE')).toMatchObject({ adoptedStance: null, adoptedOptionId: '3' })
  })

  it('loads the current outcome for a correction', () => {
    const f = outcomeFormFrom({ decision: 'd', responsibleBody: 'b', deadline: '2026-08-01T00:00:00Z', adoptedStance: 'OPPOSE' })
    expect(f).toMatchObject({ decision: 'd', adoptedStance: 'OPPOSE', adoptedOptionId: '', entrustedBy: '', changeReason: '' })
    expect(f.deadline?.toISOString()).toBe('2026-08-01T00:00:00.000Z')
  })

  it('keeps the deadline as it stands (after an extension) in a correction', () => {
    const f = correctionFormFrom({ decision: 'd', responsibleBody: 'b', deadline: '2026-08-01T00:00:00Z' }, '2026-10-01T00:00:00Z', '理由')
    expect(f.deadline?.toISOString()).toBe('2026-10-01T00:00:00.000Z')
    expect(f.quorumJustification).toBe('理由')
  })

  it('requires the quorum justification once the server asked for it', () => {
    expect(validateOutcome(filled(), 'DECISION', false, NOW, true)).toEqual({ quorumJustification: 'admin.validation.required' })
    expect(validateOutcome({ ...filled(), quorumJustification: '说明' }, 'DECISION', false, NOW, true)).toEqual({})
    expect(validateOutcome(filled(), 'DECISION', false, NOW, false)).toEqual({})
  })
})
