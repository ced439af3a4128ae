/* order_b.c: the second object of the initfini_order case, added to a
** library after order_a.c: its constructors (priorities between a's) run
** once, at its own load; its destructors take their place among a's at
** release.  Reports: 2200 constructor(200), 2450 .ctors.65085 (priority
** 450), 2999 constructor; -2200, -2450 (.dtors.65085), -2999. */
extern void oj_order_rec(int v);

__attribute__((constructor(200))) static void b200(void) { oj_order_rec(2200); }
__attribute__((constructor)) static void bplain(void) { oj_order_rec(2999); }
static void b450(void) { oj_order_rec(2450); }
__attribute__((used, section(".ctors.65085"), aligned(8))) static void (*const pb450)(void) = b450;

__attribute__((destructor(200))) static void e200(void) { oj_order_rec(-2200); }
__attribute__((destructor)) static void eplain(void) { oj_order_rec(-2999); }
static void e450(void) { oj_order_rec(-2450); }
__attribute__((used, section(".dtors.65085"), aligned(8))) static void (*const qb450)(void) = e450;
