// Package demo fills an empty database with a real-looking catalogue, so a
// fresh `make run` shows a working site.
package demo

import (
	"context"
	"errors"

	"tozalash/store"
)

// Catalogue is the demo catalogue, headline service first.
var Catalogue = []store.Service{
	{
		Name: store.Texts{
			Uz: "Kvartirani umumiy tozalash",
			Ru: "Генеральная уборка квартиры",
			En: "Apartment deep cleaning",
		},
		Description: store.Texts{
			Uz: "Barcha xonalarda changni artish, pollarni yuvish, oshxona va sanuzelni tozalash. Narx xonalar va sanuzellar soniga qarab hisoblanadi.",
			Ru: "Уборка пыли во всех комнатах, мытьё полов, уборка кухни и санузла. Цена зависит от числа комнат и санузлов.",
			En: "Dusting in every room, floor washing, kitchen and bathroom cleaning. Priced by the number of rooms and bathrooms.",
		},
		// A one-room flat with one bathroom: 350 000 so'm, 3 hours.
		Pricing: store.Pricing{Base: 200_000, PerRoom: 90_000, PerBathroom: 60_000, Minimum: 350_000, BaseMinutes: 60, MinutesPerRoom: 90, MinutesPerBathroom: 30},
		Extras: []store.Extra{
			extra("windows", "Derazalar (har biri)", "Окна (за каждое)", "Windows (each)", 15_000, 15, true),
			extra("fridge", "Muzlatgich ichini yuvish", "Мойка холодильника внутри", "Inside the fridge", 40_000, 30, false),
			extra("oven", "Duxovka ichini tozalash", "Чистка духовки внутри", "Inside the oven", 40_000, 30, false),
			extra("cabinets", "Oshxona shkaflari ichini tozalash", "Кухонные шкафы внутри", "Inside the kitchen cabinets", 60_000, 45, false),
			extra("balcony", "Balkon", "Балкон", "Balcony", 50_000, 40, false),
			extra("ironing", "Dazmollash (har soati)", "Глажка (за час)", "Ironing (per hour)", 30_000, 60, true),
		},
		Checklist: []store.ChecklistItem{
			item("dust", "Barcha yuzalardagi changni artish", "Протереть пыль со всех поверхностей", "Dust every surface"),
			item("kitchen", "Oshxona stoli, plita va rakovinani yuvish", "Вымыть столешницы, плиту и раковину на кухне", "Wipe the kitchen counters, hob and sink"),
			item("bathroom", "Sanuzelni tozalash: vanna, unitaz, rakovina va ko‘zgu", "Убрать санузел: ванна, унитаз, раковина и зеркало", "Clean the bathroom: bath, toilet, sink and mirror"),
			item("mirrors", "Ko‘zgular va shisha yuzalarni artish", "Протереть зеркала и стеклянные поверхности", "Wipe mirrors and glass surfaces"),
			item("beds", "Yotoqlarni tartibga keltirish", "Заправить кровати", "Make the beds"),
			item("floors", "Pollarni changyutgich bilan tozalash va yuvish", "Пропылесосить и вымыть полы", "Vacuum and mop the floors"),
			item("trash", "Chiqindini olib chiqish", "Вынести мусор", "Take out the trash"),
		},
	},
	{
		Name: store.Texts{
			Uz: "Ofisni tozalash",
			Ru: "Уборка офиса",
			En: "Office cleaning",
		},
		Description: store.Texts{
			Uz: "Ish joylari, majlislar xonasi, oshxona va hojatxonalarni kundalik yoki haftalik tozalash. Narx maydonga qarab, 100 m² gacha eng kam narxda.",
			Ru: "Ежедневная или еженедельная уборка рабочих мест, переговорной, кухни и санузлов. Цена по площади, до 100 м² — по минимальной цене.",
			En: "Daily or weekly cleaning of desks, meeting room, kitchen and restrooms. Priced by area; up to 100 m² at the minimum charge.",
		},
		// 5 000 so'm a square metre, at least 500 000; 100 m² in 4 hours.
		Pricing: store.Pricing{PerSquareMetre: 5_000, Minimum: 500_000, BaseMinutes: 90, MinutesPer10SquareMetres: 15},
		Extras: []store.Extra{
			extra("windows", "Derazalar (har biri)", "Окна (за каждое)", "Windows (each)", 15_000, 15, true),
			extra("kitchen", "Oshxona jihozlarini yuvish", "Мойка кухонной техники", "Kitchen appliances", 80_000, 45, false),
			extra("chairs", "Ofis kreslolarini tozalash (har biri)", "Чистка офисных кресел (за каждое)", "Office chairs (each)", 25_000, 15, true),
		},
		Checklist: []store.ChecklistItem{
			item("desks", "Ish stollari va orgtexnikani artish", "Протереть рабочие столы и оргтехнику", "Wipe the desks and office equipment"),
			item("meeting", "Majlislar xonasini tartibga keltirish", "Привести в порядок переговорную", "Tidy the meeting room"),
			item("kitchen", "Oshxonani tozalash: stol, rakovina, mikroto‘lqinli pech", "Убрать кухню: стол, раковина, микроволновка", "Clean the kitchen: counter, sink, microwave"),
			item("restrooms", "Hojatxonalarni tozalash va dezinfeksiya qilish", "Убрать и продезинфицировать санузлы", "Clean and disinfect the restrooms"),
			item("floors", "Pollarni changyutgich bilan tozalash va yuvish", "Пропылесосить и вымыть полы", "Vacuum and mop the floors"),
			item("bins", "Chiqindi savatlarini bo‘shatish", "Опустошить мусорные корзины", "Empty the bins"),
		},
	},
	{
		Name: store.Texts{
			Uz: "Gilam yuvish",
			Ru: "Стирка ковров",
			En: "Carpet washing",
		},
		Description: store.Texts{
			Uz: "Gilamlarni maxsus vositalar bilan chuqur yuvish va quritish, olib ketish va olib kelish bilan. Narx 6 m² gacha bitta gilam uchun; qo‘shimcha gilamlar donasi bilan.",
			Ru: "Глубокая стирка ковров специальными средствами и сушка, с вывозом и доставкой. Цена за один ковёр до 6 м²; остальные — поштучно.",
			En: "Deep washing of carpets with special products, and drying, pick-up and delivery included. The price is for one carpet up to 6 m²; more are priced per piece.",
		},
		// Per piece: the first carpet is the base, the others extras.
		Pricing: store.Pricing{Base: 120_000, BaseMinutes: 90},
		Extras: []store.Extra{
			extra("carpet", "Yana bir gilam (6 m² gacha)", "Ещё один ковёр (до 6 м²)", "Another carpet (up to 6 m²)", 100_000, 30, true),
			extra("large-carpet", "Katta gilam (6 m² dan ortiq)", "Большой ковёр (больше 6 м²)", "A large carpet (over 6 m²)", 180_000, 45, true),
			extra("stains", "Dog‘ va hidni ketkazish", "Выведение пятен и запахов", "Stain and odour removal", 50_000, 20, false),
		},
		Checklist: []store.ChecklistItem{
			item("inspect", "Gilamni ko‘zdan kechirish va dog‘larni belgilash", "Осмотреть ковёр и отметить пятна", "Inspect the carpet and mark the stains"),
			item("pickup", "Gilamni o‘rab, olib ketish", "Свернуть ковёр и забрать", "Roll up the carpet and take it away"),
			item("wash", "Maxsus vosita bilan chuqur yuvish", "Глубокая стирка специальным средством", "Deep-wash it with a special product"),
			item("dry", "Quritish va changini qoqish", "Высушить и выбить пыль", "Dry it and beat out the dust"),
			item("deliver", "Olib kelib, joyiga to‘shash", "Привезти и расстелить на место", "Bring it back and lay it in place"),
		},
	},
	{
		Name: store.Texts{
			Uz: "Deraza yuvish",
			Ru: "Мойка окон",
			En: "Window washing",
		},
		Description: store.Texts{
			Uz: "Derazalar, romlar va tokchalarni ikki tomondan yuvish. Narx 5 tagacha deraza uchun; qolganlari donasi bilan.",
			Ru: "Мойка окон, рам и подоконников с двух сторон. Цена до 5 окон; остальные — поштучно.",
			En: "Washing windows, frames and sills on both sides. The price is for up to 5 windows; more are priced each.",
		},
		Pricing: store.Pricing{Base: 150_000, BaseMinutes: 120},
		Extras: []store.Extra{
			extra("window", "Yana bir deraza", "Ещё одно окно", "Another window", 25_000, 20, true),
			extra("balcony", "Balkon oynalari", "Остекление балкона", "Balcony glazing", 60_000, 45, false),
			extra("blinds", "Jalyuzi yuvish (har biri)", "Мойка жалюзи (за каждые)", "Blinds (each)", 20_000, 15, true),
		},
		Checklist: []store.ChecklistItem{
			item("frames", "Romlar va tokchalarni yuvish", "Вымыть рамы и подоконники", "Wash the frames and sills"),
			item("inside", "Oynalarni ichkaridan yuvish", "Вымыть стёкла изнутри", "Wash the glass inside"),
			item("outside", "Oynalarni tashqaridan yuvish", "Вымыть стёкла снаружи", "Wash the glass outside"),
			item("screens", "Pashshaxona to‘rlarini yuvish", "Промыть москитные сетки", "Rinse the fly screens"),
			item("floor", "Deraza tagidagi polni artish", "Протереть пол под окнами", "Wipe the floor under the windows"),
		},
	},
	{
		Name: store.Texts{
			Uz: "Ta’mirdan keyingi tozalash",
			Ru: "Уборка после ремонта",
			En: "After-renovation cleaning",
		},
		Description: store.Texts{
			Uz: "Qurilish changi, bo‘yoq va suvoq qoldiqlarini olib tashlash, barcha yuzalarni yuvish. Narx maydonga qarab.",
			Ru: "Удаление строительной пыли, следов краски и штукатурки, мытьё всех поверхностей. Цена по площади.",
			En: "Removing construction dust, paint and plaster traces, washing every surface. Priced by area.",
		},
		// 9 000 so'm a square metre, at least 600 000; 60 m² in 6 hours.
		Pricing: store.Pricing{PerSquareMetre: 9_000, Minimum: 600_000, BaseMinutes: 120, MinutesPer10SquareMetres: 40},
		Extras: []store.Extra{
			extra("windows", "Derazalar (har biri)", "Окна (за каждое)", "Windows (each)", 20_000, 20, true),
			extra("paint", "Bo‘yoq va yelim dog‘larini ketkazish", "Удаление пятен краски и клея", "Paint and glue stains", 100_000, 60, false),
			extra("debris", "Qurilish chiqindilarini olib chiqish", "Вынос строительного мусора", "Taking out building waste", 150_000, 60, false),
			extra("balcony", "Balkon", "Балкон", "Balcony", 70_000, 45, false),
		},
		Checklist: []store.ChecklistItem{
			item("dust", "Barcha yuzalardan qurilish changini tozalash", "Убрать строительную пыль со всех поверхностей", "Remove the construction dust from every surface"),
			item("traces", "Bo‘yoq va suvoq izlarini ketkazish", "Удалить следы краски и штукатурки", "Remove paint and plaster traces"),
			item("windows", "Derazalar va romlarni yuvish", "Вымыть окна и рамы", "Wash the windows and frames"),
			item("kitchen", "Oshxona va sanuzelni yuvish", "Вымыть кухню и санузел", "Wash the kitchen and bathroom"),
			item("floors", "Pollarni ikki marta yuvish", "Вымыть полы в два прохода", "Wash the floors twice"),
			item("waste", "Chiqindini qoplarga yig‘ish", "Собрать мусор в мешки", "Bag up the waste"),
		},
	},
	{
		Name: store.Texts{
			Uz: "Yumshoq mebelni kimyoviy tozalash",
			Ru: "Химчистка мягкой мебели",
			En: "Upholstery dry cleaning",
		},
		Description: store.Texts{
			Uz: "Divan, kreslo va matraslarni dog‘ va hidlardan tozalash. Narx uch o‘rinli divan uchun; kreslo va matraslar donasi bilan.",
			Ru: "Чистка диванов, кресел и матрасов от пятен и запахов. Цена за трёхместный диван; кресла и матрасы — поштучно.",
			En: "Removing stains and odours from sofas, armchairs and mattresses. The price is for a three-seat sofa; armchairs and mattresses are priced per piece.",
		},
		// Per piece: the sofa is the base, the rest extras.
		Pricing: store.Pricing{Base: 250_000, BaseMinutes: 120},
		Extras: []store.Extra{
			extra("armchair", "Kreslo", "Кресло", "Armchair", 80_000, 40, true),
			extra("mattress", "Matras", "Матрас", "Mattress", 150_000, 60, true),
			extra("chair", "Yumshoq stul", "Мягкий стул", "Upholstered chair", 30_000, 15, true),
			extra("sofa", "Yana bir divan", "Ещё один диван", "Another sofa", 220_000, 100, true),
		},
		Checklist: []store.ChecklistItem{
			item("inspect", "Mebelni ko‘zdan kechirib, matosini aniqlash", "Осмотреть мебель и определить ткань", "Inspect the furniture and check the fabric"),
			item("vacuum", "Changyutgich bilan tozalash", "Пропылесосить", "Vacuum it"),
			item("stains", "Dog‘larga oldindan ishlov berish", "Предварительно обработать пятна", "Pre-treat the stains"),
			item("wash", "Ekstraktor bilan yuvish", "Промыть экстрактором", "Wash it with an extractor"),
			item("dry", "Ortiqcha namlikni so‘rib olish", "Удалить лишнюю влагу", "Draw out the excess moisture"),
		},
	},
}

// extra is an offered extra of the demo.
func extra(id, uz, ru, en string, price int64, minutes int, countable bool) store.Extra {
	return store.Extra{ID: id, Name: store.Texts{Uz: uz, Ru: ru, En: en}, Price: price, Minutes: minutes, Countable: countable, Active: true}
}

// item is an item of a demo service's visit checklist; its id is short,
// lowercase letters (the cleaner's ticks are keyed by it).
func item(id, uz, ru, en string) store.ChecklistItem {
	return store.ChecklistItem{ID: id, Text: store.Texts{Uz: uz, Ru: ru, En: en}}
}

// FrequencyDiscounts are the demo's percents off a regular cleaning.
var FrequencyDiscounts = store.FrequencyDiscounts{Weekly: 15, Biweekly: 10, Monthly: 5}

// PromoCode is the demo's code: 10% off a customer's first order, 100
// times in all.
var PromoCode = store.PromoCode{Code: "TOZA10", PercentOff: 10, MaxUses: 100, MaxUsesPerCustomer: 1, FirstOrderOnly: true, Active: true}

// SeedOffers sets the demo's frequency discounts and makes its promo code,
// once per database, apart from the catalogue so that a database seeded
// before the calculator gets them too (and the tests' catalogue stays
// without them). It reports whether it did anything.
func SeedOffers(ctx context.Context, db *store.DB) (bool, error) {
	first, err := db.MarkOnce(ctx, "seed:demo-offers")
	if err != nil || !first {
		return false, err
	}
	if _, err := store.NewSettingsStore(db).PutFrequencyDiscounts(ctx, FrequencyDiscounts); err != nil {
		return false, err
	}
	code := PromoCode
	if err := store.NewPromoCodeStore(db).Create(ctx, &code); err != nil && !errors.Is(err, store.ErrConflict) {
		return false, err // a code of that name the admin made stays theirs
	}
	return true, nil
}

// Seed inserts the demo catalogue once per database: on first start, or when
// asked with `tozalash seed`. It reports whether it inserted anything.
func Seed(ctx context.Context, db *store.DB) (bool, error) {
	first, err := db.MarkOnce(ctx, "seed:demo-catalogue")
	if err != nil || !first {
		return false, err
	}
	services := store.NewServiceStore(db)
	// The catalogue lists newest first, so the headline goes in last.
	for i := len(Catalogue) - 1; i >= 0; i-- {
		s := Catalogue[i]
		if err := services.Create(ctx, &s); err != nil {
			return false, err
		}
	}
	return true, nil
}
