import { describe, expect, it } from 'vitest'
import {
  displayNameRule,
  emailRule,
  lengthRule,
  opinionVariables,
  passwordRule,
  sameRule,
  stancesFor,
  validateOpinion,
  type OpinionTopic,
} from '@/utils/validation'

describe('account rules', () => {
  it('accepts a normal address and rejects what the API would', () => {
    expect(emailRule(' wang@example.com ')).toBeNull()
    expect(emailRule('')).toBe('resident.validation.emailRequired')
    expect(emailRule('wang@localhost')).toBe('resident.validation.email')
    expect(emailRule('wang example.com')).toBe('resident.validation.email')
    expect(emailRule(`${'a'.repeat(250)}@x.cn`)).toBe('resident.validation.email')
  })

  it('counts password length in characters, not bytes', () => {
    expect(passwordRule('七个汉字密码啊')).toBe('resident.validation.passwordShort')
    expect(passwordRule('八个汉字的密码啊')).toBeNull()
    expect(passwordRule('x'.repeat(129))).toBe('resident.validation.passwordLong')
    expect(passwordRule('')).toBe('resident.validation.passwordRequired')
  })

  it('checks the confirmation and the name', () => {
    expect(sameRule('a', 'a')).toBeNull()
    expect(sameRule('a', 'b')).toBe('resident.validation.passwordMismatch')
    expect(displayNameRule('   ')).toBe('resident.validation.nameRequired')
    expect(displayNameRule('王'.repeat(65))).toBe('resident.validation.nameLong')
    expect(lengthRule(' x ', 1, 1)).toBeNull()
  })
})

const decision: OpinionTopic = { kind: 'DECISION', reasonRequiredForDissent: true, options: [] }
const choice: OpinionTopic = { kind: 'CHOICE', reasonRequiredForDissent: false, options: [{ id: '10' }, { id: '11' }] }
const open: OpinionTopic = { kind: 'OPEN', reasonRequiredForDissent: false, options: [] }
const appraisal: OpinionTopic = { kind: 'APPRAISAL', reasonRequiredForDissent: true, options: [] }

describe('validateOpinion', () => {
  it('needs a stance on a decision, and a reason for opposing when the topic says so', () => {
    expect(validateOpinion(decision, { stance: null, optionId: null, reason: '' })).toEqual({ choice: 'resident.validation.chooseStance' })
    expect(validateOpinion(decision, { stance: 'SUPPORT', optionId: null, reason: '' })).toEqual({})
    expect(validateOpinion(decision, { stance: 'OPPOSE', optionId: null, reason: '  ' })).toEqual({ reason: 'resident.validation.reasonRequired' })
    expect(validateOpinion(decision, { stance: 'OPPOSE', optionId: null, reason: '太吵' })).toEqual({})
    expect(validateOpinion({ ...decision, reasonRequiredForDissent: false }, { stance: 'OPPOSE', optionId: null, reason: '' })).toEqual({})
  })

  it('treats only UNSATISFIED as dissent on an appraisal', () => {
    expect(validateOpinion(appraisal, { stance: 'BASICALLY_SATISFIED', optionId: null, reason: '' })).toEqual({})
    expect(validateOpinion(appraisal, { stance: 'UNSATISFIED', optionId: null, reason: '' })).toEqual({ reason: 'resident.validation.reasonRequired' })
    // A decision stance is not an appraisal stance.
    expect(validateOpinion(appraisal, { stance: 'SUPPORT', optionId: null, reason: '' })).toEqual({ choice: 'resident.validation.chooseStance' })
  })

  it('needs one of the topic options on a choice', () => {
    expect(validateOpinion(choice, { stance: null, optionId: '99', reason: '' })).toEqual({ choice: 'resident.validation.chooseOption' })
    expect(validateOpinion(choice, { stance: null, optionId: '11', reason: '' })).toEqual({})
  })

  it('needs the text of an open suggestion and caps every reason at 2000 characters', () => {
    expect(validateOpinion(open, { stance: null, optionId: null, reason: '' })).toEqual({ reason: 'resident.validation.suggestionRequired' })
    expect(validateOpinion(open, { stance: null, optionId: null, reason: '字'.repeat(2001) })).toEqual({ reason: 'resident.validation.reasonLong' })
    expect(validateOpinion(decision, { stance: 'SUPPORT', optionId: null, reason: '字'.repeat(2000) })).toEqual({})
  })
})

describe('opinionVariables', () => {
  it('sends only what the kind takes, and no empty reason', () => {
    expect(opinionVariables('1', decision, { stance: 'SUPPORT', optionId: '10', reason: '  ' })).toEqual({ topicId: '1', stance: 'SUPPORT', optionId: null, reason: null })
    expect(opinionVariables('1', choice, { stance: 'SUPPORT', optionId: '10', reason: ' ok ' })).toEqual({ topicId: '1', stance: null, optionId: '10', reason: 'ok' })
    expect(opinionVariables('1', open, { stance: null, optionId: null, reason: 'x' })).toEqual({ topicId: '1', stance: null, optionId: null, reason: 'x' })
  })

  it('offers the stances of each kind', () => {
    expect(stancesFor('DECISION')).toEqual(['SUPPORT', 'OPPOSE', 'ABSTAIN'])
    expect(stancesFor('CHOICE')).toEqual([])
  })
})
