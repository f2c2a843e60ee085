// The per-call work of one create, piece by piece, outside the server:
// protobuf-c encode/decode of the frames, validation, the in-memory store,
// DateTimeOffset text. Each benchmark runs its body 1,000 times per iteration
// (scalingFactor .kilo), so the reported figures are per operation.
//
//     cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --target PerCallWork
//
// Results and how they were taken: docs/microbenchmarks.md.

import Benchmark
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskStore
import IdentityRiskWire
import NIOCore

// MARK: - Fixtures

/// The seed's draft (Graph's "Create identityRiskEvent" body, with real enum members).
func seedDraft(id: String? = nil) -> IdentityRiskEventDraft {
    IdentityRiskEventDraft(
        id: id,
        userDisplayName: "User Display Name value",
        userPrincipalName: "User Principal Name value",
        riskEventDateTime: try! DateTimeOffset(parsing: "2017-01-01T00:01:00.7804275+03:00"),
        riskEventType: "Risk Event Type value",
        riskLevel: .high,
        riskEventStatus: .active,
        closedDateTime: try! DateTimeOffset(parsing: "2017-01-01T00:01:30.8768135+03:00"),
        userId: "User Id value"
    )
}

/// A UUID-shaped id (36 bytes, as the server assigns) unique per counter value.
func uniqueID(_ n: UInt64) -> String {
    let hex = String(n, radix: 16)
    let tail = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    return "b3a1c6d2-0000-4000-8000-" + tail
}

let fixedCreatedDateTime = try! DateTimeOffset(parsing: "2026-11-29T10:26:50.3042287Z")
let fixedID = "fa41da97-d937-410f-82eb-6a03434283de"

/// The stored record the seed draft becomes (for the response benchmark).
let seedEvent: IdentityRiskEvent = try! EventValidator().validate(
    seedDraft(), assignID: { fixedID }, createdDateTime: fixedCreatedDateTime)

/// One encoded create-request frame: 4-byte length prefix, then the Request.
func encodedCreateFrame(callID: UInt64 = 42, draft: IdentityRiskEventDraft = seedDraft()) -> ByteBuffer {
    var frame = ByteBufferAllocator().buffer(capacity: 512)
    RequestCodec.encode(IdentityRiskMethods.Create.self, draft, callID: callID, into: &frame)
    return frame
}

/// The payload of a frame (what the server's frame decoder hands to RequestCodec.decode).
func payload(of frame: ByteBuffer) -> ByteBuffer {
    var f = frame
    let length = f.readInteger(endianness: .big, as: UInt32.self)!
    return f.readSlice(length: Int(length))!
}

/// Records created per store before it is replaced (outside the measurement),
/// so the in-memory store holds 0 ... this many records during the create benchmarks.
let recordsPerStore = 100_000

/// Holds the state of a create benchmark across its iterations.
final class CreateFixture: @unchecked Sendable {
    var store = MemoryEventStore()
    var created = 0
    var counter: UInt64 = 0
    var drafts: [IdentityRiskEventDraft] = []

    /// Fresh drafts with unique ids for the next `count` creates; a new store when the old is full.
    func prepare(count: Int) {
        if created + count > recordsPerStore {
            store = MemoryEventStore()
            created = 0
        }
        drafts.removeAll(keepingCapacity: true)
        for _ in 0..<count {
            counter &+= 1
            drafts.append(seedDraft(id: uniqueID(counter)))
        }
        created += count
    }
}

/// The response buffer the completion handler writes into (one thread only).
final class OutputBox: @unchecked Sendable {
    var buffer = ByteBufferAllocator().buffer(capacity: 1024)
    let encoder = ResponseEncoder()
}

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // .instructions needs perf events (`perf stat -e instructions true`); where
        // the kernel or VM does not offer them it is left out of the report.
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        timeUnits: .nanoseconds,
        warmupIterations: 5,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // (1) Client side: one CreateRequest frame into a reused ByteBuffer
    // (public API: a fresh CArena per call, then protobuf-c pack).
    Benchmark("RequestCodec.encode create frame") { benchmark in
        let draft = seedDraft()
        var buffer = ByteBufferAllocator().buffer(capacity: 1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            buffer.clear()
            RequestCodec.encode(IdentityRiskMethods.Create.self, draft, callID: 42, into: &buffer)
        }
        benchmark.stopMeasurement()
        blackHole(buffer)
    }

    // (2) Server side: protobuf-c unpack (budgeted allocator), NUL scan, C -> Swift draft.
    Benchmark("RequestCodec.decode create frame") { benchmark in
        let body = payload(of: encodedCreateFrame())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(RequestCodec.decode(body) { inbound -> IdentityRiskEventDraft? in
                guard case .call(let request) = inbound.kind else { return nil }
                return try? IdentityRiskMethods.Create.decodeRequest(request).get()
            })
        }
    }

    // (3) Validation alone: fixed id and createdDateTime (no UUID, no clock).
    Benchmark("EventValidator.validate") { benchmark in
        let validator = EventValidator()
        let draft = seedDraft()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! validator.validate(draft, assignID: { fixedID }, createdDateTime: fixedCreatedDateTime))
        }
    }

    // (3b) What CreateEvent does before the store: validate + random UUID + system clock.
    Benchmark("CreateEvent.prepare (validate, UUID, clock)") { benchmark in
        let create = CreateEvent(store: MemoryEventStore(capacity: 1))
        let draft = seedDraft()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! create.prepare(draft))
        }
    }

    // (4) One create through the in-memory store, as the server calls it
    // (completion handler; the memory store answers inline). Unique client ids,
    // made before the measurement.
    let completionFixture = CreateFixture()
    Benchmark("CreateEvent -> MemoryEventStore (completion)") { benchmark in
        completionFixture.prepare(count: benchmark.scaledIterations.count)
        let create = CreateEvent(store: completionFixture.store)
        benchmark.startMeasurement()
        for draft in completionFixture.drafts {
            create(draft) { result in
                if case .failure(let error) = result { fatalError("create failed: \(error)") }
            }
        }
        benchmark.stopMeasurement()
    }

    // (4a) The store alone: MemoryEventStore.create of records validated before the measurement.
    let storeFixture = CreateFixture()
    Benchmark("MemoryEventStore.create (validated record)") { benchmark in
        storeFixture.prepare(count: benchmark.scaledIterations.count)
        let validator = EventValidator()
        let events = storeFixture.drafts.map { draft in
            try! validator.validate(draft, assignID: { fixedID }, createdDateTime: fixedCreatedDateTime)
        }
        let store = storeFixture.store
        benchmark.startMeasurement()
        for event in events {
            store.create(event) { result in
                if case .failure(let error) = result { fatalError("create failed: \(error)") }
            }
        }
        benchmark.stopMeasurement()
    }

    // (4b) As (4), through the async entry point (`try await create(draft)`).
    let asyncFixture = CreateFixture()
    Benchmark("CreateEvent -> MemoryEventStore (async)") { benchmark in
        asyncFixture.prepare(count: benchmark.scaledIterations.count)
        let create = CreateEvent(store: asyncFixture.store)
        benchmark.startMeasurement()
        for draft in asyncFixture.drafts {
            blackHole(try! await create(draft))
        }
        benchmark.stopMeasurement()
    }

    // (5) Server side: one CreateResponse frame (OK status + the full record) into a reused ByteBuffer.
    Benchmark("ResponseCodec.encode create response") { benchmark in
        let outcome = CreateOutcome(event: seedEvent, alreadyExisted: false)
        let encoder = ResponseEncoder()
        var buffer = ByteBufferAllocator().buffer(capacity: 1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            buffer.clear()
            encoder.encode(IdentityRiskMethods.Create.self, callID: 42, result: .success(outcome), into: &buffer)
        }
        benchmark.stopMeasurement()
        blackHole(buffer)
    }

    // (6) DateTimeOffset: parse the seed's riskEventDateTime and format it back.
    Benchmark("DateTimeOffset parse + format") { benchmark in
        let text = "2017-01-01T00:01:00.7804275+03:00"
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let value = try! DateTimeOffset(parsing: text)
            blackHole(value.description)
        }
    }

    // (6a, 6b) The two halves of (6). The wire carries dates as a structured
    // message, not text: these are the CLI's and Graph JSON's costs, not the server's.
    Benchmark("DateTimeOffset parse") { benchmark in
        let text = "2017-01-01T00:01:00.7804275+03:00"
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! DateTimeOffset(parsing: text))
        }
    }
    Benchmark("DateTimeOffset format") { benchmark in
        let value = try! DateTimeOffset(parsing: "2017-01-01T00:01:00.7804275+03:00")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(value.description)
        }
    }

    // (7) The three together, as one create costs the server outside NIO and the
    // socket: decode the request payload, create in memory, encode the response.
    let pipelineFixture = CreateFixture()
    Benchmark("decode + create + encode response") { benchmark in
        pipelineFixture.prepare(count: benchmark.scaledIterations.count)
        let payloads = pipelineFixture.drafts.enumerated().map { i, draft in
            payload(of: encodedCreateFrame(callID: UInt64(i), draft: draft))
        }
        let create = CreateEvent(store: pipelineFixture.store)
        let out = OutputBox()
        benchmark.startMeasurement()
        for body in payloads {
            RequestCodec.decode(body) { inbound in
                guard case .call(let request) = inbound.kind, case .success(let draft) = IdentityRiskMethods.Create.decodeRequest(request) else {
                    fatalError("not a create")
                }
                create(draft) { result in
                    guard case .success(let outcome) = result else { fatalError("create failed: \(result)") }
                    out.buffer.clear()
                    out.encoder.encode(IdentityRiskMethods.Create.self, callID: inbound.callID, result: .success(outcome), into: &out.buffer)
                }
            }
        }
        benchmark.stopMeasurement()
        blackHole(out.buffer)
    }
}
