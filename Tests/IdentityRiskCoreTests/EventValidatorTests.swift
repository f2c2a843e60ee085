@testable import IdentityRiskCore
import IdentityRiskTestSupport
import Testing

@Suite("EventValidator")
struct EventValidatorTests {
    static let created = dt("2024-05-01T12:00:00.1234567Z")

    /// The violations `draft` is refused with (recording an issue if it is accepted).
    func violations(_ draft: IdentityRiskEventDraft, limits: EventLimits = .default,
                    sourceLocation: SourceLocation = #_sourceLocation) -> [FieldViolation] {
        do {
            let event = try EventValidator(limits: limits).validate(draft, assignID: { "assigned" }, createdDateTime: Self.created)
            Issue.record("expected a refusal, got \(event)", sourceLocation: sourceLocation)
            return []
        } catch {
            #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
            #expect(error.violations.first?.field == error.target, sourceLocation: sourceLocation)
            return error.violations
        }
    }

    func validate(_ draft: IdentityRiskEventDraft, assignID: () -> String = { "assigned" }) throws(IdentityRiskError) -> IdentityRiskEvent {
        try EventValidator().validate(draft, assignID: assignID, createdDateTime: Self.created)
    }

    @Test func seedExampleValidatesAndKeepsEverythingExactly() throws {
        var assigned = 0
        let e = try validate(seedDraft()) { assigned += 1; return "server-id" }
        #expect(assigned == 1)
        #expect(e.id == "server-id")
        #expect(e.userDisplayName == "User Display Name value")
        #expect(e.userPrincipalName == "User Principal Name value")
        #expect(e.riskEventDateTime.description == "2017-01-01T00:01:00.7804275+03:00")
        #expect(e.riskEventType == "Risk Event Type value")
        #expect(e.riskLevel == .high)
        #expect(e.riskEventStatus == .active)
        #expect(e.closedDateTime?.description == "2017-01-01T00:01:30.8768135+03:00")
        #expect(e.createdDateTime.description == "2024-05-01T12:00:00.1234567Z")
        #expect(e.userId == "User Id value")
        // A retry of the same record carries the same content.
        var retry = IdentityRiskEventDraft(e)
        #expect(retry.createdDateTime == nil)
        retry.id = e.id
        #expect(try validate(retry).hasSameContent(as: e))
    }

    @Test func optionalPropertiesMayBeOmitted() throws {
        var draft = seedDraft()
        draft.userDisplayName = nil
        draft.closedDateTime = nil
        let e = try validate(draft)
        #expect(e.userDisplayName == nil)
        #expect(e.closedDateTime == nil)
    }

    @Test("each required property, missing or empty, is named", arguments: [
        "userPrincipalName", "riskEventDateTime", "riskEventType", "riskLevel", "riskEventStatus", "userId",
    ])
    func requiredProperty(field: String) {
        for empty in [false, true] {
            var draft = seedDraft()
            switch field {
            case "userPrincipalName": draft.userPrincipalName = empty ? "" : nil
            case "riskEventType": draft.riskEventType = empty ? "" : nil
            case "userId": draft.userId = empty ? "" : nil
            case "riskEventDateTime": if empty { continue } else { draft.riskEventDateTime = nil }
            case "riskLevel": if empty { continue } else { draft.riskLevel = nil }
            case "riskEventStatus": if empty { continue } else { draft.riskEventStatus = nil }
            default: Issue.record("unknown field \(field)")
            }
            let found = violations(draft)
            #expect(found.map(\.field) == [field])
            #expect(found.first?.description.hasPrefix("is required") == true)
        }
    }

    @Test func requiredEnumsListTheirAllowedValues() {
        var draft = seedDraft()
        draft.riskLevel = nil
        draft.riskEventStatus = nil
        let found = violations(draft)
        #expect(found.first { $0.field == "riskLevel" }?.description.contains("low, medium, high, hidden, none, unknownFutureValue") == true)
        #expect(found.first { $0.field == "riskEventStatus" }?.description.contains("dismissedAsFalsePositive") == true)
    }

    @Test func createdDateTimeIsReadOnly() throws {
        var draft = seedDraft()
        draft.createdDateTime = dt("2017-01-01T00:00:00Z")
        do {
            _ = try validate(draft)
            Issue.record("createdDateTime was accepted")
        } catch {
            #expect(error.violations.count == 1)
            #expect(error.violations.first?.field == "createdDateTime")
            #expect(error.violations.first?.innerCode == "ReadOnlyProperty")
            #expect(error.innerCode == "ReadOnlyProperty")
            #expect(error.target == "createdDateTime")
        }
    }

    @Test("closedDateTime may not precede riskEventDateTime (compared as instants)", arguments: [
        // risk, closed, accepted
        ("2017-01-01T00:01:00Z", "2017-01-01T00:00:59.9999999Z", false),
        ("2017-01-01T00:01:00Z", "2017-01-01T00:01:00Z", true),
        ("2017-01-01T00:01:00Z", "2017-01-01T03:01:00+03:00", true),           // the same instant
        ("2017-01-01T03:01:00+03:00", "2017-01-01T00:01:00Z", true),           // the same instant, other way round
        ("2017-01-01T00:01:00Z", "2016-12-31T19:01:00-05:00", true),           // the same instant, negative offset
        ("2017-01-01T00:00:00Z", "2017-01-01T02:00:00+03:00", false),          // later text, earlier instant (23:00Z)
        ("2017-01-01T00:01:00.7804275+03:00", "2016-12-31T22:00:00Z", true),   // earlier text, later instant
    ])
    func closedBeforeRisk(risk: String, closed: String, accepted: Bool) throws {
        var draft = seedDraft()
        draft.riskEventDateTime = dt(risk)
        draft.closedDateTime = dt(closed)
        if accepted {
            #expect(try validate(draft).closedDateTime?.description == closed)
        } else {
            let found = violations(draft)
            #expect(found.map(\.field) == ["closedDateTime"])
            #expect(found.first?.description.contains(closed) == true)
            #expect(found.first?.description.contains(risk) == true)
        }
    }

    /// Limits are in UTF-8 bytes: the limit is accepted, one byte more is not,
    /// whatever the characters' widths.
    @Test("length limits in UTF-8 bytes", arguments: [
        ("userDisplayName", 256), ("userPrincipalName", 256), ("riskEventType", 128), ("userId", 128),
    ])
    func lengthLimits(field: String, limit: Int) throws {
        func draft(_ value: String) -> IdentityRiskEventDraft {
            var d = seedDraft()
            switch field {
            case "userDisplayName": d.userDisplayName = value
            case "userPrincipalName": d.userPrincipalName = value
            case "riskEventType": d.riskEventType = value
            default: d.userId = value
            }
            return d
        }
        // 1-, 2-, 3- and 4-byte characters; each string's byte count is checked first.
        let fits = [String(repeating: "a", count: limit), String(repeating: "é", count: limit / 2),
                     String(repeating: "€", count: limit / 4) + String(repeating: "a", count: limit - 3 * (limit / 4)),
                     String(repeating: "😀", count: limit / 4)]
        for value in fits {
            #expect(value.utf8.count == limit)
            let e = try validate(draft(value))
            #expect([e.userDisplayName, e.userPrincipalName, e.riskEventType, e.userId].contains(value))
        }
        let over = [String(repeating: "a", count: limit + 1), String(repeating: "é", count: limit / 2) + "a",
                    "a" + String(repeating: "😀", count: limit / 4), String(repeating: "é", count: limit / 2 + 1)]
        for value in over {
            let bytes = value.utf8.count
            #expect(bytes > limit)
            let found = violations(draft(value))
            #expect(found.map(\.field) == [field])
            #expect(found.first?.description == "is \(bytes) bytes of UTF-8; at most \(limit) are allowed")
        }
        // The 4-byte case: fewer characters than the limit, still too long.
        #expect(("a" + String(repeating: "😀", count: limit / 4)).count < limit)
    }

    @Test("control characters, including NUL, are refused", arguments: [0x00, 0x09, 0x0A, 0x0D, 0x1B, 0x1F, 0x7F] as [UInt32])
    func controlCharacters(scalar: UInt32) throws {
        let control = String(Character(try #require(Unicode.Scalar(scalar))))
        for value in [control, "a" + control, control + "b", "a" + control + "b"] {
            for field in ["userDisplayName", "userPrincipalName", "riskEventType", "userId"] {
                var draft = seedDraft()
                switch field {
                case "userDisplayName": draft.userDisplayName = value
                case "userPrincipalName": draft.userPrincipalName = value
                case "riskEventType": draft.riskEventType = value
                default: draft.userId = value
                }
                let found = violations(draft)
                #expect(found.map(\.field) == [field])
                #expect(found.first?.description.contains(codePoint(scalar)) == true, "\(escapedForDisplay(found.description))")
            }
        }
    }

    /// Unicode's control characters (general category Cc) include C1,
    /// U+0080 ... U+009F: NEL breaks lines and CSI (U+009B) starts terminal
    /// escape sequences, as ESC [ does. The validator only refuses C0 and DEL.
    @Test("C1 control characters are refused", arguments: [0x80, 0x85, 0x9B, 0x9F] as [UInt32])
    func c1ControlCharacters(scalar: UInt32) throws {
        let control = String(Character(try #require(Unicode.Scalar(scalar))))
        var draft = seedDraft()
        draft.userDisplayName = "a" + control + "b"
        let refused = (try? validate(draft)) == nil
        #expect(refused, "\(codePoint(scalar)) was accepted")
    }

    @Test func printableUnicodeIsAccepted() throws {
        var draft = seedDraft()
        draft.userDisplayName = "Zoë Ñúñez 日本 😀 \u{200B} 👍🏽"
        #expect(try validate(draft).userDisplayName == "Zoë Ñúñez 日本 😀 \u{200B} 👍🏽")
    }

    @Test("ids: 1 to 128 of A-Z a-z 0-9 - . _ ~", arguments: [
        "a b", "a/b", "a%20b", "é", "a\u{0}", "a+b", "{id}", "a:b", "'", String(repeating: "x", count: 129),
    ])
    func badIDs(id: String) {
        var draft = seedDraft()
        draft.id = id
        let found = violations(draft)
        #expect(found.map(\.field) == ["id"])
    }

    @Test("good ids are kept and no id is assigned", arguments: [
        "A", "Az09-._~", String(repeating: "x", count: 128), "9953902a-902a-4953-aa90-53992a905399",
    ])
    func suppliedID(id: String) throws {
        var draft = seedDraft()
        draft.id = id
        var assigned = 0
        let e = try validate(draft) { assigned += 1; return "server-id" }
        #expect(e.id == id)
        #expect(assigned == 0)
    }

    @Test func decodingViolationsAreReportedWithoutDuplicates() {
        var draft = seedDraft()
        draft.riskLevel = nil
        draft.riskEventDateTime = nil
        draft.userId = nil
        draft.userPrincipalName = nil
        draft.decodingViolations = [
            FieldViolation(field: "riskLevel", description: "'extreme' is not a riskLevel; allowed values: \(RiskLevel.allowedValues)"),
            FieldViolation(field: "riskEventDateTime", description: "'yesterday' is not a datetime"),
            FieldViolation(field: "userPrincipalName", description: "must be a string, not a number"),
        ]
        let found = violations(draft)
        #expect(found.filter { $0.field == "riskLevel" }.map(\.description) == [draft.decodingViolations[0].description])
        #expect(found.filter { $0.field == "riskEventDateTime" }.map(\.description) == ["'yesterday' is not a datetime"])
        #expect(found.filter { $0.field == "userPrincipalName" }.map(\.description) == ["must be a string, not a number"])
        // userId had no decoding problem, so it is simply required.
        #expect(found.filter { $0.field == "userId" }.map { $0.description.hasPrefix("is required") } == [true])
        #expect(found.count == 4)
    }

    @Test func decodingViolationsAloneRefuseTheDraft() {
        var draft = seedDraft()
        draft.decodingViolations = [FieldViolation(field: "extraProperty", description: "is not a property of identityRiskEvent")]
        #expect(violations(draft).map(\.field) == ["extraProperty"])
    }

    @Test func everyProblemIsListedAtOnce() {
        var draft = seedDraft()
        draft.id = "bad id"
        draft.userDisplayName = "tab\there"
        draft.userPrincipalName = nil
        draft.riskEventStatus = nil
        draft.createdDateTime = dt("2017-01-01T00:00:00Z")
        draft.closedDateTime = dt("2016-01-01T00:00:00Z")
        draft.userId = String(repeating: "u", count: 129)
        do {
            _ = try validate(draft)
            Issue.record("accepted")
        } catch {
            let fields = Set(error.violations.map(\.field))
            #expect(fields == ["id", "userDisplayName", "userPrincipalName", "riskEventStatus", "createdDateTime", "closedDateTime", "userId"])
            #expect(error.violations.count == 7)
            #expect(error.message.hasPrefix("7 properties are invalid; first, "))
            #expect(error.description.contains("\n  createdDateTime: "))
        }
    }

    @Test func limitsAreConfigurable() throws {
        var limits = EventLimits()
        limits.maxUserIDBytes = 4
        var draft = seedDraft()
        draft.userId = "abcd"
        #expect(try EventValidator(limits: limits).validate(draft, assignID: { "x" }, createdDateTime: Self.created).userId == "abcd")
        draft.userId = "abcde"
        #expect(violations(draft, limits: limits).map(\.field) == ["userId"])
    }
}

@Suite("EventIDGenerator")
struct EventIDGeneratorTests {
    @Test func randomIDsAreLowercaseV4UUIDs() throws {
        let e = try EventValidator().validate(seedDraft(), assignID: EventIDGenerator.randomUUID,
                                              createdDateTime: EventValidatorTests.created)
        #expect(isLowercaseV4UUID(e.id), "\(e.id)")
        #expect(EventValidator.idProblem(e.id) == nil)
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = EventIDGenerator.randomUUID()
            #expect(isLowercaseV4UUID(id), "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }

    /// With all-zero and all-one random bits only the version and variant bits
    /// are forced: 4 in the version nibble, binary 10 at the top of the variant.
    @Test func versionAndVariantBitsAreForced() {
        struct Constant: RandomNumberGenerator {
            var value: UInt64
            mutating func next() -> UInt64 { value }
        }
        var zeros = Constant(value: 0)
        var ones = Constant(value: .max)
        #expect(EventIDGenerator.randomUUID(using: &zeros) == "00000000-0000-4000-8000-000000000000")
        #expect(EventIDGenerator.randomUUID(using: &ones) == "ffffffff-ffff-4fff-bfff-ffffffffffff")

        var first = SplitMix64(seed: 7), second = SplitMix64(seed: 7)
        for _ in 0..<100 {
            let id = EventIDGenerator.randomUUID(using: &first)
            #expect(id == EventIDGenerator.randomUUID(using: &second))
            #expect(isLowercaseV4UUID(id), "\(id)")
        }
    }

    @Test("server-assigned ids are lowercase version 7 UUIDs, strictly increasing as text, the time in their first 48 bits")
    func timeOrderedIDs() throws {
        let before = UInt64(SystemEventClock().now().instantTicks / 10_000)
        var ids: [String] = []
        for _ in 0..<5000 { ids.append(EventIDGenerator.timeOrderedUUID()) }
        let after = UInt64(SystemEventClock().now().instantTicks / 10_000)
        #expect(ids.allSatisfy { isLowercaseUUID($0, version: "7") }, "\(ids.first ?? "")")
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "each id sorts after the one before")
        #expect(Set(ids).count == ids.count)
        for id in [ids.first!, ids.last!] {
            let hex = String(id.filter { $0 != "-" }.prefix(12))
            let milliseconds = try #require(UInt64(hex, radix: 16))
            // Many ids at once (here and in the concurrent test) carry the sequence a few milliseconds past the clock.
            #expect(milliseconds >= before && milliseconds <= after + 20, "\(id): \(milliseconds) not in \(before) ... \(after)")
        }
        let e = try EventValidator().validate(seedDraft(), assignID: EventIDGenerator.timeOrderedUUID, createdDateTime: EventValidatorTests.created)
        #expect(EventValidator.idProblem(e.id) == nil)
    }

    @Test("version 7: 4,096 ids in one millisecond, then the sequence carries into the timestamp; a clock that steps back does not reorder")
    func timeOrderedSequenceCarries() {
        let sequence = EventIDGenerator.TimeOrderedUUIDs()
        var zeros = SplitMix64(seed: 1)
        let start: UInt64 = 0x0123_4567_89AB
        var ids: [String] = []
        for _ in 0..<4097 { ids.append(sequence.next(milliseconds: start, using: &zeros)) }
        #expect(ids[0].hasPrefix("01234567-89ab-7000-"))
        #expect(ids[4095].hasPrefix("01234567-89ab-7fff-"))
        #expect(ids[4096].hasPrefix("01234567-89ac-7000-"), "the 4,097th carries into the next millisecond")
        let back = sequence.next(milliseconds: start - 1000, using: &zeros)
        #expect(back.hasPrefix("01234567-89ac-7001-"), "a clock one second back still sorts after: \(back)")
        let later = sequence.next(milliseconds: start + 5, using: &zeros)
        #expect(later.hasPrefix("01234567-89b0-7000-"), "\(later)")
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 } && ids.last! < back && back < later)
        #expect(ids.allSatisfy { isLowercaseUUID($0, version: "7") })
    }

    @Test("version 7 from 8 threads at once: all distinct")
    func timeOrderedConcurrent() async {
        let all = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (0..<2000).map { _ in EventIDGenerator.timeOrderedUUID() } } }
            var all: [String] = []
            for await ids in group {
                #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "increasing within each thread")
                all += ids
            }
            return all
        }
        #expect(Set(all).count == 16_000)
    }

    @Test func theFormatCheckItselfRejectsNearMisses() {
        #expect(isLowercaseV4UUID("9953902a-902a-4953-aa90-53992a905399"))
        #expect(!isLowercaseV4UUID("9953902A-902a-4953-aa90-53992a905399"))  // uppercase
        #expect(!isLowercaseV4UUID("9953902a-902a-1953-aa90-53992a905399"))  // version 1
        #expect(!isLowercaseV4UUID("9953902a-902a-4953-ca90-53992a905399"))  // variant 110
        #expect(!isLowercaseV4UUID("9953902a902a-4953-aa90-53992a905399-"))  // dashes misplaced
        #expect(!isLowercaseV4UUID("9953902a-902a-4953-aa90-53992a90539"))   // short
    }
}
