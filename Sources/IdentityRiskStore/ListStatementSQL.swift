import GRDB
import IdentityRiskCore

/// The SQL dialects ``ListStatementSQL`` writes. Every difference between them
/// is decided here, in one place each:
/// - placeholders: SQLite `?`, PostgreSQL `$1`, `$2`, ...;
/// - the literal "matches nothing": SQLite `0`, PostgreSQL `FALSE` (its WHERE
///   wants a boolean);
/// - byte-order string comparison: SQLite's default BINARY collation;
///   PostgreSQL's text columns are declared `COLLATE "C"` (see
///   `PostgresSchema`), so the same SQL compares by UTF-8 bytes in both.
enum SQLDialect: Sendable {
    case sqlite
    case postgres

    func placeholder(_ number: Int) -> String {
        switch self {
        case .sqlite: "?"
        case .postgres: "$\(number)"
        }
    }

    var matchesNothing: String {
        switch self {
        case .sqlite: "0"
        case .postgres: "FALSE"
        }
    }
}

/// A value bound to a placeholder of ``ListStatementSQL``.
enum SQLArgument: Sendable, Hashable {
    case text(String)
    case integer(Int64)

    var databaseValue: DatabaseValue {
        switch self {
        case .text(let text): text.databaseValue
        case .integer(let value): value.databaseValue
        }
    }
}

/// ``ListStatementSQL`` for SQLite: GRDB arguments.
struct SQLiteListStatement: Sendable {
    var sql: String
    var arguments: [DatabaseValue]
    /// Without a filter the SQL text takes one of a few shapes, worth caching.
    var isCacheable: Bool

    static let maxFilterDepth = ListStatementSQL.maxFilterDepth

    init(_ query: ListQuery) throws(IdentityRiskError) {
        let statement = try ListStatementSQL(query, dialect: .sqlite)
        sql = statement.sql
        arguments = statement.arguments.map(\.databaseValue)
        isCacheable = statement.isCacheable
    }
}

/// Translates a ``ListQuery`` into one parameterised SELECT whose result is,
/// row for row, what `MemoryEventStore.list` returns, in either ``SQLDialect``.
///
/// - The filter becomes a WHERE clause with placeholders; values are only
///   ever bound, never written into the SQL text.
/// - Semantics follow ``FilterComparison/matches(_:)``:
///   - strings compare by UTF-8 bytes (SQLite's BINARY collation, PostgreSQL's "C");
///   - date-times compare by ``DateTimeOffset/instantTicks``;
///   - enums compare by ``RiskLevel/wireNumber`` / ``RiskEventStatus/wireNumber``
///     (never Swift declaration order): the comparison becomes
///     `column IN (every member whose wire number satisfies it)` (or "matches nothing" when none does);
///   - on a nullable property, a non-null literal never matches NULL except with
///     `ne`; `eq null` is `IS NULL`, any other operator with `null` is `IS NOT NULL`;
///   - a property compared with a literal of the wrong kind matches nothing.
/// - A property's column is its ``SQLiteColumnLayout/comparisonColumn``, the
///   same mapping the table, the insert and the decoder use.
/// - Keyset pagination is ``ListCursor/precedes(_:in:)``: ascending
///   `key > k OR (key = k AND id > i)`, descending `key < k OR (key = k AND id > i)`,
///   written as `key >= k AND (key > k OR id > i)` so that both databases use
///   the index range; ORDER BY key ASC|DESC, id ASC; LIMIT top + 1 reveals a next page.
struct ListStatementSQL: Sendable {
    var sql: String
    var arguments: [SQLArgument]
    /// Without a filter the SQL text takes one of a few shapes, worth caching.
    var isCacheable: Bool

    /// SQLite refuses expressions deeper than 1000 (SQLITE_MAX_EXPR_DEPTH); the
    /// generated SQL adds a few levels around the filter.
    static let maxFilterDepth = 400
    /// Far below SQLite's 32766 bound parameters.
    static let maxFilterComparisons = 10_000

    init(_ query: ListQuery, dialect: SQLDialect) throws(IdentityRiskError) {
        guard query.top >= 1, query.top <= ListQuery.maxTop else {
            throw IdentityRiskError.invalid([FieldViolation(
                field: "top", description: "is \(query.top); allowed: 1 ... \(ListQuery.maxTop)")])
        }
        var binder = Binder(dialect: dialect)
        var conditions: [String] = []
        if let filter = query.filter {
            try Self.checkSize(filter)
            conditions.append(Self.sql(filter, &binder))
        }
        let key = Self.keyColumn(query.order)
        if let after = query.after {
            let (inclusive, strict) = query.order.isDescending ? ("<=", "<") : (">=", ">")
            let k1 = binder.bind(.integer(after.sortKey))
            let k2 = binder.bind(.integer(after.sortKey))
            let i = binder.bind(.text(after.id))
            conditions.append("\(key) \(inclusive) \(k1) AND (\(key) \(strict) \(k2) OR id > \(i))")
        }
        var sql = "SELECT \(SQLiteSchema.selectColumns) FROM \(SQLiteSchema.table)"
        if !conditions.isEmpty {
            sql += " WHERE " + conditions.map { "(\($0))" }.joined(separator: " AND ")
        }
        sql += " ORDER BY \(key) \(query.order.isDescending ? "DESC" : "ASC"), id ASC LIMIT \(binder.bind(.integer(Int64(query.top + 1))))"
        self.sql = sql
        self.arguments = binder.arguments
        self.isCacheable = query.filter == nil
    }

    /// Collects the arguments and writes each one's placeholder.
    struct Binder {
        let dialect: SQLDialect
        var arguments: [SQLArgument] = []

        mutating func bind(_ argument: SQLArgument) -> String {
            arguments.append(argument)
            return dialect.placeholder(arguments.count)
        }
    }

    static func keyColumn(_ order: ListOrder) -> String {
        switch order {
        case .createdAscending, .createdDescending: SQLiteColumnLayout(.createdDateTime).comparisonColumn
        case .riskEventAscending, .riskEventDescending: SQLiteColumnLayout(.riskEventDateTime).comparisonColumn
        }
    }

    /// Rejects trees SQLite would refuse, without recursing (a degenerate tree
    /// must not overflow the stack before we can say no).
    private static func checkSize(_ filter: FilterExpression) throws(IdentityRiskError) {
        var stack: [(FilterExpression, Int)] = [(filter, 1)]
        var comparisons = 0
        while let (node, depth) = stack.popLast() {
            guard depth <= maxFilterDepth else {
                throw tooComplex("nests deeper than \(maxFilterDepth) levels")
            }
            switch node {
            case .comparison:
                comparisons += 1
                guard comparisons <= maxFilterComparisons else {
                    throw tooComplex("has more than \(maxFilterComparisons) comparisons")
                }
            case .and(let l, let r), .or(let l, let r):
                stack.append((l, depth + 1))
                stack.append((r, depth + 1))
            }
        }
    }

    private static func tooComplex(_ why: String) -> IdentityRiskError {
        IdentityRiskError.invalid([FieldViolation(field: "filter", description: "\(why); simplify the filter")])
    }

    private static func sql(_ filter: FilterExpression, _ binder: inout Binder) -> String {
        switch filter {
        case .comparison(let c): comparison(c, &binder)
        case .and(let l, let r): "(\(sql(l, &binder))) AND (\(sql(r, &binder)))"
        case .or(let l, let r): "(\(sql(l, &binder))) OR (\(sql(r, &binder)))"
        }
    }

    private static func comparison(_ c: FilterComparison, _ binder: inout Binder) -> String {
        let column = SQLiteColumnLayout(c.property).comparisonColumn
        let condition: String
        switch (c.property.kind, c.value) {
        case (_, .null):
            return c.op == .eq ? "\(column) IS NULL" : "\(column) IS NOT NULL"
        case (.text, .string(let s)):
            condition = "\(column) \(symbol(c.op)) \(binder.bind(.text(s)))"
        case (.dateTime, .dateTime(let d)):
            condition = "\(column) \(symbol(c.op)) \(binder.bind(.integer(d.instantTicks)))"
        case (.riskLevel, .riskLevel(let level)):
            condition = member(column, level, \.wireNumber, c.op, &binder)
        case (.riskEventStatus, .riskEventStatus(let status)):
            condition = member(column, status, \.wireNumber, c.op, &binder)
        case (.text, _), (.dateTime, _), (.riskLevel, _), (.riskEventStatus, _):
            return binder.dialect.matchesNothing  // a literal of another kind matches nothing
        }
        // An absent value matches `ne` any value (and no other operator), as
        // NULL in SQL matches nothing.
        return c.property.isNullable && c.op == .ne ? "\(column) IS NULL OR \(condition)" : condition
    }

    /// An enum comparison by wire number, as the list of members it admits.
    private static func member<E: CaseIterable & RawRepresentable>(
        _ column: String, _ literal: E, _ rank: (E) -> UInt32, _ op: FilterOperator, _ binder: inout Binder
    ) -> String where E.RawValue == String {
        let admitted = E.allCases.filter { op.holds(rank($0), rank(literal)) }.map(\.rawValue)
        guard !admitted.isEmpty else { return binder.dialect.matchesNothing }
        return "\(column) IN (\(admitted.map { binder.bind(.text($0)) }.joined(separator: ", ")))"
    }


    private static func symbol(_ op: FilterOperator) -> String {
        switch op {
        case .eq: "="
        case .ne: "<>"
        case .gt: ">"
        case .ge: ">="
        case .lt: "<"
        case .le: "<="
        }
    }
}
