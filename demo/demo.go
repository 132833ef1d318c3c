// Package demo fills an empty database with a real-looking catalogue, so a
// fresh `make run` shows a working site.
package demo

import (
	"context"

	"tozalash/store"
)

// Catalogue is the demo catalogue, headline service first.
var Catalogue = []store.Service{
	{
		Name:            "Kvartirani umumiy tozalash",
		Description:     "Barcha xonalarda changni artish, pollarni yuvish, oshxona va sanuzelni tozalash. Ikki xonali kvartira uchun.",
		Price:           350_000,
		DurationMinutes: 180,
		Translations: map[string]store.ServiceText{
			"ru": {Name: "Генеральная уборка квартиры", Description: "Уборка пыли во всех комнатах, мытьё полов, уборка кухни и санузла. Для двухкомнатной квартиры."},
			"en": {Name: "Apartment deep cleaning", Description: "Dusting in every room, floor washing, kitchen and bathroom cleaning. For a two-room apartment."},
		},
	},
	{
		Name:            "Ofisni tozalash",
		Description:     "Ish joylari, majlislar xonasi, oshxona va hojatxonalarni kundalik yoki haftalik tozalash. 100 m² gacha.",
		Price:           500_000,
		DurationMinutes: 240,
		Translations: map[string]store.ServiceText{
			"ru": {Name: "Уборка офиса", Description: "Ежедневная или еженедельная уборка рабочих мест, переговорной, кухни и санузлов. До 100 м²."},
			"en": {Name: "Office cleaning", Description: "Daily or weekly cleaning of desks, meeting room, kitchen and restrooms. Up to 100 m²."},
		},
	},
	{
		Name:            "Gilam yuvish",
		Description:     "Gilamlarni maxsus vositalar bilan chuqur yuvish va quritish. Narx 6 m² gilam uchun, olib ketish va olib kelish bilan.",
		Price:           120_000,
		DurationMinutes: 90,
		Translations: map[string]store.ServiceText{
			"ru": {Name: "Стирка ковров", Description: "Глубокая стирка ковров специальными средствами и сушка. Цена за ковёр 6 м², с вывозом и доставкой."},
			"en": {Name: "Carpet washing", Description: "Deep washing of carpets with special products, and drying. Price per 6 m² carpet, pick-up and delivery included."},
		},
	},
	{
		Name:            "Deraza yuvish",
		Description:     "Derazalar, romlar va tokchalarni ikki tomondan yuvish. 5 tagacha deraza uchun.",
		Price:           150_000,
		DurationMinutes: 120,
		Translations: map[string]store.ServiceText{
			"ru": {Name: "Мойка окон", Description: "Мойка окон, рам и подоконников с двух сторон. До 5 окон."},
			"en": {Name: "Window washing", Description: "Washing windows, frames and sills on both sides. Up to 5 windows."},
		},
	},
	{
		Name:            "Ta’mirdan keyingi tozalash",
		Description:     "Qurilish changi, bo‘yoq va suvoq qoldiqlarini olib tashlash, barcha yuzalarni yuvish. 60 m² gacha.",
		Price:           900_000,
		DurationMinutes: 480,
		Translations: map[string]store.ServiceText{
			"ru": {Name: "Уборка после ремонта", Description: "Удаление строительной пыли, следов краски и штукатурки, мытьё всех поверхностей. До 60 м²."},
			"en": {Name: "After-renovation cleaning", Description: "Removing construction dust, paint and plaster traces, washing every surface. Up to 60 m²."},
		},
	},
	{
		Name:            "Yumshoq mebelni kimyoviy tozalash",
		Description:     "Divan, kreslo va matraslarni dog‘ va hidlardan tozalash. Uch o‘rinli divan uchun.",
		Price:           250_000,
		DurationMinutes: 120,
		Translations: map[string]store.ServiceText{
			"ru": {Name: "Химчистка мягкой мебели", Description: "Чистка диванов, кресел и матрасов от пятен и запахов. Для трёхместного дивана."},
			"en": {Name: "Upholstery dry cleaning", Description: "Removing stains and odours from sofas, armchairs and mattresses. For a three-seat sofa."},
		},
	},
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
