import Foundation
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore

/// The methods `--mix` can send.
enum MixMethod: Int, CaseIterable, Codable, Sendable {
    case create, get, list, update, delete, health

    var name: String {
        switch self {
        case .create: "create"
        case .get: "get"
        case .list: "list"
        case .update: "update"
        case .delete: "delete"
        case .health: "health"
        }
    }

    /// Reads or changes records the run created before measuring (`--seed`).
    var needsSeed: Bool { self == .get || self == .list || self == .update }
}

/// `--mix create=1,get=8,list=1,update=1`: which methods each connection
/// sends, in what ratio. Every connection runs the same interleaved
/// ``schedule`` (smooth weighted round-robin: `get=8,create=1` sends four
/// gets, a create, four gets, not eight gets in a row), so over any stretch of
/// a run the ratio holds within one cycle.
///
/// - create: a new record (the same bodies as the create-only run);
/// - get: a record created by the seeding phase, chosen at random;
/// - update: such a record's riskEventStatus and riskLevel (no if_match);
/// - list: one of ``ListTemplates/requests``, each answered from an index;
/// - delete: a record this connection created during the run and that was
///   acknowledged (oldest first; needs create in the mix);
/// - health: the health method.
struct Mix: Sendable, Equatable, CustomStringConvertible {
    static let maxWeight = 1000

    /// In the order given.
    let weights: [(method: MixMethod, weight: Int)]
    let schedule: [MixMethod]

    static func == (a: Mix, b: Mix) -> Bool { a.description == b.description }

    init(parsing text: String) throws(BenchError) {
        let allowed = MixMethod.allCases.map(\.name).joined(separator: ", ")
        var weights: [(MixMethod, Int)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            let pieces = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2 else {
                throw BenchError("--mix '\(text)': '\(item)' is not METHOD=WEIGHT (e.g. create=1,get=8,list=1,update=1)")
            }
            let name = pieces[0].trimmingCharacters(in: .whitespaces)
            guard let method = MixMethod.allCases.first(where: { $0.name == name }) else {
                throw BenchError("--mix '\(text)': '\(name)' is not a method it can send; allowed: \(allowed)")
            }
            guard let weight = Int(pieces[1].trimmingCharacters(in: .whitespaces)), (0...Self.maxWeight).contains(weight) else {
                throw BenchError("--mix '\(text)': the weight of \(name) is '\(pieces[1])'; allowed: a whole number 0 ... \(Self.maxWeight)")
            }
            guard !weights.contains(where: { $0.0 == method }) else {
                throw BenchError("--mix '\(text)': \(name) is named twice")
            }
            weights.append((method, weight))
        }
        weights.removeAll { $0.1 == 0 }
        guard !weights.isEmpty else { throw BenchError("--mix '\(text)': every weight is 0; give at least one method a weight of 1 or more") }
        if weights.contains(where: { $0.0 == .delete }), !weights.contains(where: { $0.0 == .create }) {
            throw BenchError("--mix '\(text)': delete removes records the run created and needs create in the mix too")
        }
        self.weights = weights.map { (method: $0.0, weight: $0.1) }
        schedule = Self.interleave(self.weights)
    }

    /// Smooth weighted round-robin over one cycle of `sum(weights)` picks.
    private static func interleave(_ weights: [(method: MixMethod, weight: Int)]) -> [MixMethod] {
        let total = weights.reduce(0) { $0 + $1.weight }
        var current = [Int](repeating: 0, count: weights.count)
        var schedule: [MixMethod] = []
        schedule.reserveCapacity(total)
        for _ in 0..<total {
            for i in weights.indices { current[i] += weights[i].weight }
            let pick = current.indices.max { current[$0] < current[$1] }!
            current[pick] -= total
            schedule.append(weights[pick].method)
        }
        return schedule
    }

    func weight(of method: MixMethod) -> Int { weights.first { $0.method == method }?.weight ?? 0 }
    var needsSeed: Bool { weights.contains { $0.method.needsSeed } }
    var deletes: Bool { weight(of: .delete) > 0 }
    var description: String { weights.map { "\($0.method.name)=\($0.weight)" }.joined(separator: ",") }
}

/// The list requests of a mix, taken in turn; each filter and order is
/// answered from one of the stores' indexes (docs/performance.md shows the plans).
enum ListTemplates {
    static func requests() -> [ListEvents.Request] {
        var requests: [ListEvents.Request] = [
            ListEvents.Request(filter: "", order: .createdDescending, top: 25),
            ListEvents.Request(filter: "riskLevel eq 'high'", order: .riskEventDescending, top: 50),
            ListEvents.Request(filter: "riskEventStatus eq 'active' and riskEventDateTime ge 2017-06-01T00:00:00Z", order: .riskEventAscending, top: 20),
        ]
        // One user's records, for 16 of the payload mix's users.
        for user in stride(from: 0, to: 4096, by: 256) {
            requests.append(ListEvents.Request(filter: "userId eq '\(PayloadMix.userID(user))'", top: 10))
        }
        return requests
    }
}

/// One connection's frames for the methods of a mix other than create (the
/// creates come from its ``FramePool``), patched per request.
///
/// Seeded records are numbered 0 ..< `seed`: record r was created by seeding
/// connection r % C as its create r / C (the seeding phase splits the count
/// over C connections exactly so), with id "b-<seedTag>-<r % C>-<r / C>".
struct MixFrames {
    /// Status and level values an update sets, in turn.
    static let updateVariants: [(RiskEventStatus, RiskLevel)] = [
        (.dismissedAsFalsePositive, .low), (.active, .high), (.remediated, .medium), (.active, .low),
    ]

    let seed: UInt64
    let seedConnections: Int
    let seedTag: String
    private(set) var gets = PatchableFrames()
    /// Seeding connection c, variant v: index c * variants + v.
    private(set) var updates = PatchableFrames()
    private(set) var lists = PatchableFrames()
    private(set) var deletes = PatchableFrames()
    private(set) var healths = PatchableFrames()
    var maxFrameLength: Int { [gets, updates, lists, deletes, healths].map(\.maxFrameLength).max() ?? 0 }

    init(mix: Mix, seed: UInt64, seedConnections: Int, seedTag: String, creates: FramePool) throws(BenchError) {
        self.seed = max(1, seed)
        self.seedConnections = max(1, seedConnections)
        self.seedTag = seedTag
        if mix.weight(of: .get) > 0 || mix.weight(of: .update) > 0 {
            for c in 0..<self.seedConnections {
                let placeholder = PatchableFrames.id(FramePool.idPrefix(runTag: seedTag, connection: c), 0)
                if mix.weight(of: .get) > 0 { try gets.append(IdentityRiskMethods.Get.self, placeholder, placeholder: placeholder) }
                guard mix.weight(of: .update) > 0 else { continue }
                for (status, level) in Self.updateVariants {
                    var patch = EventPatch()
                    patch.set(.riskEventStatus, .riskEventStatus(status))
                    patch.set(.riskLevel, .riskLevel(level))
                    try updates.append(IdentityRiskMethods.Update.self, UpdateEvent.Request(id: placeholder, patch: patch), placeholder: placeholder)
                }
            }
        }
        if mix.weight(of: .list) > 0 {
            for request in ListTemplates.requests() { try lists.append(IdentityRiskMethods.List.self, request, placeholder: nil) }
        }
        if mix.deletes {
            guard let placeholder = creates.recordID(0) else {
                throw BenchError("--mix with delete needs ids the bench chose: it cannot be combined with --server-ids")
            }
            try deletes.append(IdentityRiskMethods.Delete.self, DeleteEvent.Request(id: placeholder), placeholder: placeholder)
        }
        if mix.weight(of: .health) > 0 { try healths.append(IdentityRiskMethods.Health.self, HealthRequest(), placeholder: nil) }
        try selfCheck()
    }

    /// The id of seeded record `record`.
    func seededID(_ record: UInt64) -> String {
        let c = Int(record % UInt64(seedConnections))
        return PatchableFrames.id(FramePool.idPrefix(runTag: seedTag, connection: c), record / UInt64(seedConnections))
    }

    @inline(__always)
    func writeGet(record: UInt64, callID: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        gets.write(Int(record % UInt64(seedConnections)), callID: callID, number: record / UInt64(seedConnections), to: out)
    }

    @inline(__always)
    func writeUpdate(record: UInt64, variant: UInt64, callID: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let index = Int(record % UInt64(seedConnections)) * Self.updateVariants.count + Int(variant % UInt64(Self.updateVariants.count))
        return updates.write(index, callID: callID, number: record / UInt64(seedConnections), to: out)
    }

    @inline(__always)
    func writeList(_ n: UInt64, callID: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        lists.write(Int(n % UInt64(lists.count)), callID: callID, number: 0, to: out)
    }

    /// Deletes create number `record` of this connection.
    @inline(__always)
    func writeDelete(record: UInt64, callID: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        deletes.write(0, callID: callID, number: record, to: out)
    }

    @inline(__always)
    func writeHealth(callID: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        healths.write(0, callID: callID, number: 0, to: out)
    }

    /// Patched get and update frames must decode to the seeded ids.
    private func selfCheck() throws(BenchError) {
        let callID = FramePool.callID(seq: 7, slot: 3)
        for record in [0, seed - 1, seed / 2] {
            let expected = seededID(record)
            if gets.count > 0 {
                let c = Int(record % UInt64(seedConnections))
                let id = gets.decodePatched(c, callID: callID, number: record / UInt64(seedConnections)) { _, request -> String? in
                    guard let request, case .success(let id) = IdentityRiskMethods.Get.decodeRequest(request) else { return nil }
                    return id
                }
                guard id == expected else { throw BenchError("self-check failed: a patched get frame reads \(id ?? "nothing"), not \(expected)") }
            }
            if updates.count > 0 {
                let index = Int(record % UInt64(seedConnections)) * Self.updateVariants.count
                let id = updates.decodePatched(index, callID: callID, number: record / UInt64(seedConnections)) { _, request -> String? in
                    guard let request, case .success(let update) = IdentityRiskMethods.Update.decodeRequest(request) else { return nil }
                    return update.id
                }
                guard id == expected else { throw BenchError("self-check failed: a patched update frame reads \(id ?? "nothing"), not \(expected)") }
            }
        }
    }
}
