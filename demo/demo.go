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
		Name: store.Texts{
			Uz: "Kvartirani umumiy tozalash",
			Ru: "Генеральная уборка квартиры",
			En: "Apartment deep cleaning",
		},
		Description: store.Texts{
			Uz: "Barcha xonalarda changni artish, pollarni yuvish, oshxona va sanuzelni tozalash. Ikki xonali kvartira uchun.",
			Ru: "Уборка пыли во всех комнатах, мытьё полов, уборка кухни и санузла. Для двухкомнатной квартиры.",
			En: "Dusting in every room, floor washing, kitchen and bathroom cleaning. For a two-room apartment.",
		},
		Price:           350_000,
		DurationMinutes: 180,
	},
	{
		Name: store.Texts{
			Uz: "Ofisni tozalash",
			Ru: "Уборка офиса",
			En: "Office cleaning",
		},
		Description: store.Texts{
			Uz: "Ish joylari, majlislar xonasi, oshxona va hojatxonalarni kundalik yoki haftalik tozalash. 100 m² gacha.",
			Ru: "Ежедневная или еженедельная уборка рабочих мест, переговорной, кухни и санузлов. До 100 м².",
			En: "Daily or weekly cleaning of desks, meeting room, kitchen and restrooms. Up to 100 m².",
		},
		Price:           500_000,
		DurationMinutes: 240,
	},
	{
		Name: store.Texts{
			Uz: "Gilam yuvish",
			Ru: "Стирка ковров",
			En: "Carpet washing",
		},
		Description: store.Texts{
			Uz: "Gilamlarni maxsus vositalar bilan chuqur yuvish va quritish. Narx 6 m² gilam uchun, olib ketish va olib kelish bilan.",
			Ru: "Глубокая стирка ковров специальными средствами и сушка. Цена за ковёр 6 м², с вывозом и доставкой.",
			En: "Deep washing of carpets with special products, and drying. Price per 6 m² carpet, pick-up and delivery included.",
		},
		Price:           120_000,
		DurationMinutes: 90,
	},
	{
		Name: store.Texts{
			Uz: "Deraza yuvish",
			Ru: "Мойка окон",
			En: "Window washing",
		},
		Description: store.Texts{
			Uz: "Derazalar, romlar va tokchalarni ikki tomondan yuvish. 5 tagacha deraza uchun.",
			Ru: "Мойка окон, рам и подоконников с двух сторон. До 5 окон.",
			En: "Washing windows, frames and sills on both sides. Up to 5 windows.",
		},
		Price:           150_000,
		DurationMinutes: 120,
	},
	{
		Name: store.Texts{
			Uz: "Ta’mirdan keyingi tozalash",
			Ru: "Уборка после ремонта",
			En: "After-renovation cleaning",
		},
		Description: store.Texts{
			Uz: "Qurilish changi, bo‘yoq va suvoq qoldiqlarini olib tashlash, barcha yuzalarni yuvish. 60 m² gacha.",
			Ru: "Удаление строительной пыли, следов краски и штукатурки, мытьё всех поверхностей. До 60 м².",
			En: "Removing construction dust, paint and plaster traces, washing every surface. Up to 60 m².",
		},
		Price:           900_000,
		DurationMinutes: 480,
	},
	{
		Name: store.Texts{
			Uz: "Yumshoq mebelni kimyoviy tozalash",
			Ru: "Химчистка мягкой мебели",
			En: "Upholstery dry cleaning",
		},
		Description: store.Texts{
			Uz: "Divan, kreslo va matraslarni dog‘ va hidlardan tozalash. Uch o‘rinli divan uchun.",
			Ru: "Чистка диванов, кресел и матрасов от пятен и запахов. Для трёхместного дивана.",
			En: "Removing stains and odours from sofas, armchairs and mattresses. For a three-seat sofa.",
		},
		Price:           250_000,
		DurationMinutes: 120,
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
