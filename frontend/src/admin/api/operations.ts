/**
 * Every GraphQL operation of the admin panel, typed from `schema.graphql`
 * by GraphQL Code Generator. Names start with `Admin` so they never clash
 * with the resident pages' operations.
 */
import { graphql } from '@/gql'

export const AdminDivisionDocument = graphql(`
  query AdminDivision($code: String!) {
    division(code: $code) {
      code
      name
      level
      parentCode
      pathName
      ancestors {
        code
        name
      }
    }
  }
`)

export const AdminDivisionsDocument = graphql(`
  query AdminDivisions($parentCode: String, $nameContains: String, $first: Int, $after: String) {
    divisions(parentCode: $parentCode, nameContains: $nameContains, first: $first, after: $after) {
      nodes {
        code
        fullCode
        name
        level
        parentCode
        pathName
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminDashboardDocument = graphql(`
  query AdminDashboard($code: String!) {
    dashboard(divisionCode: $code) {
      division {
        ...AdminKpis
      }
      children {
        ...AdminKpis
      }
    }
  }
  fragment AdminKpis on DivisionKpis {
    divisionCode
    topicsByState {
      state
      count
    }
    responses
    eligible
    participation
    completedOnTime
    completedLate
    onTimeRate
    overdue
    dissenters
    explained
    explanationCoverage
    satisfied
    unsatisfied
    satisfaction
  }
`)

export const AdminTopicsDocument = graphql(`
  query AdminTopics(
    $within: String
    $states: [TopicState!]
    $category: TopicCategory
    $overdue: Boolean
    $first: Int
    $after: String
  ) {
    topics(withinDivision: $within, states: $states, category: $category, overdue: $overdue, first: $first, after: $after) {
      nodes {
        id
        title
        category
        kind
        state
        scopeCode
        scope {
          code
          name
          pathName
        }
        opensAt
        closesAt
        deadline
        overdue
        createdAt
        updatedAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminSupervisedTopicsDocument = graphql(`
  query AdminSupervisedTopics($within: String, $states: [TopicState!], $overdue: Boolean, $after: String) {
    topics(withinDivision: $within, states: $states, overdue: $overdue, first: 50, after: $after) {
      nodes {
        id
        title
        state
        scope {
          code
          name
        }
        closesAt
        deadline
        overdue
        decisionOverdue
        outcome {
          version
          decision
          responsibleBody
          deadline
        }
        earlyCloseRequest {
          reason
          requestedAt
        }
        viewerActions {
          action
          allowed
          blockedCode
          blockedReason
        }
        supervisionFlags {
          ...AdminFlag
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminTopicDocument = graphql(`
  query AdminTopic($id: ID!) {
    topic(id: $id) {
      id
      title
      body
      category
      kind
      state
      scopeCode
      scope {
        code
        fullCode
        name
        level
        pathName
        ancestors {
          code
          fullCode
          name
        }
      }
      technical
      reasonRequiredForDissent
      secret
      quorumPercent
      eligibility
      noticeAt
      opensAt
      closesAt
      announcedAt
      openedAt
      closedAt
      withdrawnAt
      withdrawReason
      createdAt
      updatedAt
      options {
        id
        position
        label
      }
      viewerActions {
        action
        allowed
        blockedCode
        blockedReason
      }
      earlyCloseRequest {
        reason
        requestedAt
      }
      assessments {
        id
        title
        body
        bodyName
        authorName
        publishedAt
      }
      meetings {
        id
        heldAt
        place
        attendees
        minutes
      }
      outcome {
        ...AdminOutcome
      }
      outcomeVersions {
        ...AdminOutcome
      }
      progressUpdates {
        id
        body
        percent
        publishedAt
      }
      supervisionFlags {
        ...AdminFlag
      }
      explanations {
        id
        audience
        divisionCode
        body
        recipients
        publishedAt
      }
      deadline
      originalDeadline
      deadlineExtensions {
        id
        previousDeadline
        newDeadline
        reason
        extendedAt
      }
      decisionDueAt
      decisionOverdue
      quorumJustification
      unexplainedDissenters
      inPersonExplanations {
        id
        opinionId
        explainedBy
        explainedAt
        place
        response
        note
        recordedAt
      }
      record {
        ...AdminRecordEntry
      }
      completedAt
      overdue
      completedOnTime
      referredTo {
        ...AdminReferral
      }
      referredFrom {
        ...AdminReferral
      }
      entrustedBy
      reportDueAt
      reportOverdue
      entrustedReport {
        submittedTo
        submittedAt
        summary
        acknowledgedAt
        acknowledgementReference
      }
      completedWithinExtension
    }
  }
  fragment AdminReferral on Referral {
    id
    fromKind
    fromId
    fromDivisionCode
    fromDivision {
      name
    }
    toDivisionCode
    toDivision {
      name
    }
    reason
    referredAt
    status
    answer
    answeredAt
    topicId
  }
  fragment AdminRecordEntry on RecordEntry {
    seq
    action
    actorRole
    actorDivisionCode
    reason
    detail
    recordedAt
    hash
  }
  fragment AdminFlag on SupervisionFlag {
    id
    subject
    outcomeVersion
    reason
    legalBasis
    status
    createdAt
    resolvedByVersion
    resolvedAt
    resolution
  }
  fragment AdminOutcome on Outcome {
    version
    decision
    adoptedStance
    adoptedOptionId
    responsibleBody
    deadline
    entrustedBy
    changeReason
    flagId
    publishedAt
  }
`)

export const AdminCreateTopicDocument = graphql(`
  mutation AdminCreateTopic($input: TopicInput!) {
    createTopic(input: $input) {
      id
      state
    }
  }
`)

export const AdminUpdateTopicDocument = graphql(`
  mutation AdminUpdateTopic($id: ID!, $input: TopicInput!) {
    updateTopic(id: $id, input: $input) {
      id
      state
    }
  }
`)

export const AdminAnnounceTopicDocument = graphql(`
  mutation AdminAnnounceTopic($id: ID!) {
    announceTopic(id: $id) {
      id
      state
    }
  }
`)

export const AdminOpenTopicDocument = graphql(`
  mutation AdminOpenTopic($id: ID!) {
    openTopic(id: $id) {
      id
      state
    }
  }
`)

export const AdminCloseTopicDocument = graphql(`
  mutation AdminCloseTopic($id: ID!) {
    closeTopic(id: $id) {
      id
      state
    }
  }
`)

export const AdminWithdrawTopicDocument = graphql(`
  mutation AdminWithdrawTopic($id: ID!, $reason: String!) {
    withdrawTopic(id: $id, reason: $reason) {
      id
      state
    }
  }
`)

export const AdminStartImplementationDocument = graphql(`
  mutation AdminStartImplementation($id: ID!) {
    startImplementation(topicId: $id) {
      id
      state
    }
  }
`)

export const AdminCompleteTopicDocument = graphql(`
  mutation AdminCompleteTopic($id: ID!) {
    completeTopic(topicId: $id) {
      id
      state
    }
  }
`)

export const AdminPublishOutcomeDocument = graphql(`
  mutation AdminPublishOutcome($id: ID!, $input: OutcomeInput!) {
    publishOutcome(topicId: $id, input: $input) {
      version
    }
  }
`)

export const AdminCorrectOutcomeDocument = graphql(`
  mutation AdminCorrectOutcome($id: ID!, $input: OutcomeInput!, $changeReason: String!) {
    correctOutcome(topicId: $id, input: $input, changeReason: $changeReason) {
      version
    }
  }
`)

export const AdminPublishProgressDocument = graphql(`
  mutation AdminPublishProgress($id: ID!, $body: String!, $percent: Int!) {
    publishProgress(topicId: $id, body: $body, percent: $percent) {
      id
    }
  }
`)

export const AdminFlagOutcomeDocument = graphql(`
  mutation AdminFlagOutcome($id: ID!, $reason: String!, $legalBasis: String!, $subject: FlagSubject!) {
    flagOutcome(topicId: $id, reason: $reason, legalBasis: $legalBasis, subject: $subject) {
      id
    }
  }
`)

export const AdminResolveFlagDocument = graphql(`
  mutation AdminResolveFlag($flagId: ID!, $accept: Boolean!, $note: String!) {
    resolveFlag(flagId: $flagId, accept: $accept, note: $note) {
      id
      status
    }
  }
`)

export const AdminRequestEarlyCloseDocument = graphql(`
  mutation AdminRequestEarlyClose($id: ID!, $reason: String!) {
    requestEarlyClose(topicId: $id, reason: $reason) {
      id
      state
    }
  }
`)

export const AdminCountersignEarlyCloseDocument = graphql(`
  mutation AdminCountersignEarlyClose($id: ID!, $approve: Boolean!, $note: String) {
    countersignEarlyClose(topicId: $id, approve: $approve, note: $note) {
      id
      state
    }
  }
`)

export const AdminExtendDeadlineDocument = graphql(`
  mutation AdminExtendDeadline($id: ID!, $deadline: DateTime!, $reason: String!) {
    extendDeadline(topicId: $id, deadline: $deadline, reason: $reason) {
      id
      newDeadline
    }
  }
`)

export const AdminUnexplainedOpinionsDocument = graphql(`
  query AdminUnexplainedOpinions($id: ID!) {
    topic(id: $id) {
      id
      unexplainedDissenters
      unexplainedOpinions(first: 200) {
        id
        stance
        optionId
        reason
        villageCode
        village {
          name
        }
        proxy
        residentName
        createdAt
      }
    }
  }
`)

export const AdminRecordInPersonDocument = graphql(`
  mutation AdminRecordInPerson($id: ID!, $input: InPersonExplanationInput!) {
    recordInPersonExplanation(topicId: $id, input: $input) {
      id
    }
  }
`)

export const AdminVerifyRecordDocument = graphql(`
  query AdminVerifyRecord($id: ID!) {
    verifyTopicRecord(topicId: $id) {
      intact
      entries
      head
      brokenAt
      problem
    }
  }
`)

export const AdminPublishAssessmentDocument = graphql(`
  mutation AdminPublishAssessment($id: ID!, $input: AssessmentInput!) {
    publishAssessment(topicId: $id, input: $input) {
      id
    }
  }
`)

export const AdminRecordMeetingDocument = graphql(`
  mutation AdminRecordMeeting($id: ID!, $input: MeetingInput!) {
    recordMeeting(topicId: $id, input: $input) {
      id
    }
  }
`)

export const AdminOpinionsDocument = graphql(`
  query AdminOpinions(
    $topicId: ID!
    $stances: [Stance!]
    $optionIds: [ID!]
    $divisionCode: String
    $text: String
    $proxy: Boolean
    $first: Int
    $after: String
  ) {
    opinions(
      topicId: $topicId
      stances: $stances
      optionIds: $optionIds
      divisionCode: $divisionCode
      text: $text
      proxy: $proxy
      first: $first
      after: $after
    ) {
      nodes {
        id
        stance
        optionId
        reason
        villageCode
        village {
          name
        }
        proxy
        confirmedAt
        residentName
        revision
        updatedAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminTopicResultsDocument = graphql(`
  query AdminTopicResults($topicId: ID!, $level: DivisionLevel, $within: String) {
    topicResults(topicId: $topicId, level: $level, within: $within) {
      topicId
      level
      state
      quorumPercent
      consensus
      dissentingDivisionCodes
      minCell
      fullDetail
      overall {
        ...AdminDivisionResult
      }
      rows {
        ...AdminDivisionResult
      }
    }
  }
  fragment AdminDivisionResult on DivisionResult {
    divisionCode
    folded
    divisions
    total
    eligible
    participation
    quorumMet
    counts {
      stance
      optionId
      label
      count
      share
    }
    division {
      code
      name
      level
    }
  }
`)

export const AdminTopicResultsLiveDocument = graphql(`
  subscription AdminTopicResultsLive($topicId: ID!, $level: DivisionLevel, $within: String) {
    topicResults(topicId: $topicId, level: $level, within: $within) {
      topicId
      level
      state
      quorumPercent
      consensus
      dissentingDivisionCodes
      minCell
      fullDetail
      overall {
        ...AdminDivisionResult
      }
      rows {
        ...AdminDivisionResult
      }
    }
  }
`)

export const AdminTopicPulseDocument = graphql(`
  subscription AdminTopicPulse($topicId: ID!) {
    topicResults(topicId: $topicId, level: COUNTY) {
      topicId
      overall {
        total
      }
    }
  }
`)

export const AdminDissentThemesDocument = graphql(`
  query AdminDissentThemes($topicId: ID!, $divisionCode: String, $top: Int) {
    dissentThemes(topicId: $topicId, divisionCode: $divisionCode, top: $top) {
      keyword
      count
      sampleOpinionIds
    }
  }
`)

export const AdminAudienceSizeDocument = graphql(`
  query AdminAudienceSize($topicId: ID!, $audience: ExplanationAudienceInput!) {
    explanationAudienceSize(topicId: $topicId, audience: $audience)
  }
`)

export const AdminPublishExplanationDocument = graphql(`
  mutation AdminPublishExplanation($topicId: ID!, $audience: ExplanationAudienceInput!, $body: String!) {
    publishExplanation(topicId: $topicId, audience: $audience, body: $body) {
      id
      recipients
    }
  }
`)

export const AdminCoverageDocument = graphql(`
  query AdminCoverage($topicId: ID!, $level: DivisionLevel) {
    explanationCoverage(topicId: $topicId, level: $level) {
      overall {
        ...AdminCoverageRow
      }
      rows {
        ...AdminCoverageRow
      }
    }
  }
  fragment AdminCoverageRow on ExplanationCoverage {
    divisionCode
    dissenters
    explained
    read
    satisfied
    unsatisfied
    notYetExplained
  }
`)

export const AdminResidencyRequestsDocument = graphql(`
  query AdminResidencyRequests($divisionCode: String, $status: ResidencyStatus, $after: String) {
    residencyRequests(divisionCode: $divisionCode, status: $status, first: 50, after: $after) {
      nodes {
        id
        status
        divisionCode
        division {
          name
          pathName
        }
        user {
          id
          email
          displayName
        }
        note
        decisionReason
        requestedAt
        decidedAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminApproveResidencyDocument = graphql(`
  mutation AdminApproveResidency($id: ID!) {
    approveResidency(id: $id) {
      id
      status
    }
  }
`)

export const AdminRejectResidencyDocument = graphql(`
  mutation AdminRejectResidency($id: ID!, $reason: String!) {
    rejectResidency(id: $id, reason: $reason) {
      id
      status
    }
  }
`)

export const AdminRoleAssignmentsDocument = graphql(`
  query AdminRoleAssignments($userId: ID) {
    roleAssignments(userId: $userId) {
      id
      role
      divisionCode
      createdAt
      userId
      division {
        name
        pathName
      }
    }
  }
`)

export const AdminUserByEmailDocument = graphql(`
  query AdminUserByEmail($email: String!) {
    userByEmail(email: $email) {
      id
      email
      displayName
      emailVerified
      createdAt
      residency {
        divisionCode
        division {
          pathName
        }
      }
      roles {
        id
        role
        divisionCode
        division {
          pathName
        }
      }
    }
  }
`)

export const AdminAssignRoleDocument = graphql(`
  mutation AdminAssignRole($userId: ID!, $role: Role!, $divisionCode: String!) {
    assignRole(userId: $userId, role: $role, divisionCode: $divisionCode) {
      id
    }
  }
`)

export const AdminRevokeRoleDocument = graphql(`
  mutation AdminRevokeRole($id: ID!) {
    revokeRole(id: $id) {
      id
    }
  }
`)

export const AdminSuggestionsDocument = graphql(`
  query AdminSuggestions($divisionCode: String, $status: SuggestionStatus, $after: String) {
    suggestions(divisionCode: $divisionCode, status: $status, first: 50, after: $after) {
      nodes {
        id
        divisionCode
        division {
          name
          pathName
        }
        title
        body
        category
        status
        supporters
        authorDisplayName
        declineReason
        topicId
        answerDueAt
        answerOverdue
        createdAt
        decidedAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminAdoptSuggestionDocument = graphql(`
  mutation AdminAdoptSuggestion(
    $id: ID!
    $kind: TopicKind
    $options: [String!]
    $opensAt: DateTime
    $closesAt: DateTime
  ) {
    adoptSuggestion(id: $id, kind: $kind, options: $options, opensAt: $opensAt, closesAt: $closesAt) {
      id
      status
      topicId
    }
  }
`)

export const AdminDeclineSuggestionDocument = graphql(`
  mutation AdminDeclineSuggestion($id: ID!, $reason: String!) {
    declineSuggestion(id: $id, reason: $reason) {
      id
      status
    }
  }
`)

export const AdminOutboxDocument = graphql(`
  query AdminOutbox($status: EmailStatus, $after: String) {
    outbox(status: $status, first: 50, after: $after) {
      nodes {
        id
        kind
        recipient
        locale
        status
        attempts
        nextAttemptAt
        lastError
        createdAt
        sentAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminRetryEmailDocument = graphql(`
  mutation AdminRetryEmail($id: ID!) {
    retryEmail(id: $id) {
      id
      status
    }
  }
`)

export const AdminRecordProxyOpinionDocument = graphql(`
  mutation AdminRecordProxyOpinion($input: ProxyOpinionInput!) {
    recordProxyOpinion(input: $input) {
      id
    }
  }
`)

export const AdminAuditLogDocument = graphql(`
  query AdminAuditLog($code: String!, $subjectType: String, $action: String, $after: String) {
    auditLog(divisionCode: $code, subjectType: $subjectType, action: $action, first: 50, after: $after) {
      nodes {
        id
        actorUserId
        action
        subjectType
        subjectId
        divisionCode
        detail
        createdAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`)

export const AdminReferTopicDocument = graphql(`
  mutation AdminReferTopic($topicId: ID!, $to: String!, $reason: String!) {
    referTopic(topicId: $topicId, toDivisionCode: $to, reason: $reason) {
      id
    }
  }
`)

export const AdminReferSuggestionDocument = graphql(`
  mutation AdminReferSuggestion($id: ID!, $to: String!, $reason: String!) {
    referSuggestion(suggestionId: $id, toDivisionCode: $to, reason: $reason) {
      id
    }
  }
`)

export const AdminReferralsDocument = graphql(`
  query AdminReferrals($divisionCode: String, $status: ReferralStatus) {
    referrals(divisionCode: $divisionCode, status: $status, first: 200) {
      id
      fromKind
      fromId
      fromDivisionCode
      fromDivision {
        pathName
      }
      toDivisionCode
      toDivision {
        name
      }
      fromTopic {
        id
        title
      }
      fromSuggestion {
        id
        title
      }
      reason
      referredAt
      status
      answer
      answeredAt
      topicId
    }
  }
`)

export const AdminAcceptReferralDocument = graphql(`
  mutation AdminAcceptReferral($id: ID!, $answer: String, $topicId: ID) {
    acceptReferral(id: $id, answer: $answer, topicId: $topicId) {
      id
      status
    }
  }
`)

export const AdminDeclineReferralDocument = graphql(`
  mutation AdminDeclineReferral($id: ID!, $reason: String!) {
    declineReferral(id: $id, reason: $reason) {
      id
      status
    }
  }
`)

export const AdminLinkReferralTopicDocument = graphql(`
  mutation AdminLinkReferralTopic($id: ID!, $topicId: ID!) {
    linkReferralTopic(id: $id, topicId: $topicId) {
      id
      topicId
    }
  }
`)

export const AdminSubmitEntrustedReportDocument = graphql(`
  mutation AdminSubmitEntrustedReport($topicId: ID!, $submittedTo: String!, $submittedAt: DateTime!, $summary: String!) {
    submitEntrustedReport(topicId: $topicId, submittedTo: $submittedTo, submittedAt: $submittedAt, summary: $summary) {
      submittedAt
    }
  }
`)

export const AdminAcknowledgeEntrustedReportDocument = graphql(`
  mutation AdminAcknowledgeEntrustedReport($topicId: ID!, $acknowledgedAt: DateTime!, $reference: String!) {
    acknowledgeEntrustedReport(topicId: $topicId, acknowledgedAt: $acknowledgedAt, reference: $reference) {
      acknowledgedAt
    }
  }
`)

export const AdminExplanationRepliesDocument = graphql(`
  query AdminExplanationReplies($id: ID!) {
    explanationReplies(explanationId: $id) {
      satisfied
      comment
      repliedAt
      villageCode
      opinionId
    }
  }
`)
