// Package rules holds the pure rules of the transfer: ID numbers (GB
// 11643-1999), amounts in words (人民币大写), certificate numbers, the
// working-day calendar, the registration window, contribution gaps and
// waiting periods. Nothing here does I/O or keeps state, so every rule can be
// tested, fuzzed and read on its own.
//
//	words, _ := rules.AmountWords(1640902)        // 壹万陆仟肆佰零玖元零贰分
//	err := rules.CheckID(id, table.ProvinceKnown, time.Now())
//	due := rules.DefaultCalendar().AddWorkdays(time.Now(), rules.TransferOutDays)
package rules
