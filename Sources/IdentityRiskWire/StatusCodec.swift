import CIdentityRiskProto
import IdentityRiskCore

/// `IdentityRiskError.Code` <-> `identityrisk.v1.StatusCode` numbers.
enum StatusCodec {
    static let table: [(IdentityRiskError.Code, UInt32)] = [
        (.cancelled, 1), (.unknown, 2), (.invalidArgument, 3), (.deadlineExceeded, 4),
        (.notFound, 5), (.alreadyExists, 6), (.permissionDenied, 7), (.resourceExhausted, 8),
        (.failedPrecondition, 9), (.unimplemented, 12), (.internal, 13), (.unavailable, 14),
    ]

    static func number(_ code: IdentityRiskError.Code) -> UInt32 {
        table.first { $0.0 == code }!.1
    }

    /// Unknown numbers (from a newer server) read as `.unknown`.
    static func code(_ number: UInt32) -> IdentityRiskError.Code {
        table.first { $0.1 == number }?.0 ?? .unknown
    }

    static func encode(_ error: IdentityRiskError, in arena: CArena) -> UnsafeMutablePointer<Identityrisk__V1__Status> {
        arena.make(Identityrisk__V1__Status.self) { s in
            identityrisk__v1__status__init(s)
            s.pointee.code = .init(rawValue: numericCast(number(error.code)))
            s.pointee.message = arena.cString(error.message)
            s.pointee.target = arena.cString(error.target)
            s.pointee.inner_code = arena.cString(error.innerCode)
            s.pointee.retry_after_ms = error.retryAfterMilliseconds ?? 0
            s.pointee.resume_cursor = error.resumeCursor?.rawValue ?? 0
            let count = error.violations.count
            s.pointee.n_violations = count
            if count > 0 {
                let list = arena.pointers(to: Identityrisk__V1__FieldViolation.self, count: count)
                for (i, v) in error.violations.enumerated() {
                    list[i] = arena.make(Identityrisk__V1__FieldViolation.self) { f in
                        identityrisk__v1__field_violation__init(f)
                        f.pointee.field = arena.cString(v.field)
                        f.pointee.description = arena.cString(v.description)
                        f.pointee.inner_code = arena.cString(v.innerCode)
                    }
                }
                s.pointee.violations = list
            }
        }
    }

    static func decode(_ s: UnsafePointer<Identityrisk__V1__Status>) -> IdentityRiskError {
        func text(_ p: UnsafeMutablePointer<CChar>?) -> String? {
            guard let p, p.pointee != 0 else { return nil }
            return String(cString: p)
        }
        let v = s.pointee
        var violations: [FieldViolation] = []
        for i in 0..<v.n_violations {
            guard let f = v.violations[i] else { continue }
            violations.append(FieldViolation(
                field: text(f.pointee.field) ?? "",
                description: text(f.pointee.description) ?? "",
                innerCode: text(f.pointee.inner_code)))
        }
        return IdentityRiskError(
            code: code(numericCast(v.code.rawValue)),
            message: text(v.message) ?? "",
            target: text(v.target),
            violations: violations,
            innerCode: text(v.inner_code),
            retryAfterMilliseconds: v.retry_after_ms == 0 ? nil : v.retry_after_ms,
            resumeCursor: v.resume_cursor == 0 ? nil : ChangeCursor(v.resume_cursor)
        )
    }
}
